"""Every refusal names the file, the dotted key and what is expected: one bad file per case."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config import load_config
from pantau.broker_config import parse_broker
from pantau.config import ConfigError

HERE = Path(__file__).parent
BAD = HERE / "bad"
PROFILES = HERE / "profiles"
ID_RULE = (
    "an id matching ^[a-z0-9][a-z0-9_-]{0,62}$ "
    "(lowercase letters, digits, '-' and '_', at most 63 characters)"
)
MATCH = '[{vid = "05ba", pid = "000a"}]'

# (file stem in bad/, dotted key, reason); "{bad}" / "{profiles}" stand for those dirs.
CASES = [
    ("missing_station", "station",
     'missing; expected the station id, like station = "medan-baru-01"'),
    ("missing_site", "site", 'missing; expected the site id, like site = "medan-baru"'),
    ("bad_station_id", "station", f'expected {ID_RULE}, got string "Medan Baru 01"'),
    ("unknown_top_key", "stations", "unknown key; expected one of: station, site, include, broker, "
     "intervals, usb, host, queue, components, checks, max_payload_bytes"),
    ("unknown_nested_key", "intervals.heartbeat",
     "unknown key; expected one of: heartbeat_s, poll_s, host_s"),
    ("bad_vid", "components[2].match[0].vid",
     'expected 4 hex digits like "05ba", got string "5ba1x"'),
    ("vid_as_integer", "components[0].match[0].vid",
     'expected 4 hex digits like "05ba", got integer 1466 (quote it: "05ba")'),
    ("missing_pid", "components[0].match[0].pid",
     'missing; expected the product id as 4 hex digits, like pid = "000a"'),
    ("unknown_match_key", "components[0].match[0].product",
     "unknown key; expected one of: vid, pid, serial, standin"),
    ("standin_not_bool", "components[0].match[1].standin",
     'expected true or false, got string "yes"'),
    ("only_standins", "components[0].match",
     "every entry is a stand-in; also list the model that fills the role for good "
     "(the one to order when the role is missing)"),
    ("standin_in_allow", "usb.allow[1].standin",
     "only for a component's match entries: an allowed device serves no role; "
     "move it to the match list of the role it stands in for"),
    ("duplicate_component", "components[1].id",
     'duplicate id "camera" (also components[0]); each id must be unique'),
    ("duplicate_check", "checks[1].id",
     'duplicate id "server" (also checks[0]); each id must be unique'),
    ("bad_component_id", "components[0].id", f'expected {ID_RULE}, got string "Fingerprint"'),
    ("bad_kind", "components[0].kind", 'expected "usb" or "display", got string "serial"'),
    ("missing_kind", "components[0].kind",
     'missing; expected "usb" or "display" (only overrides of a profile may omit it)'),
    ("usb_without_match", "components[0].match",
     f"a usb component needs at least one device, like match = {MATCH}"),
    ("display_with_match", "components[0].match",
     'only for kind = "usb"; a display is matched by connector'),
    ("bad_count", "components[0].count", "expected an integer from 1 to 64, got integer 0"),
    ("required_as_string", "components[0].required", 'expected true or false, got string "yes"'),
    ("bad_min_speed", "components[0].min_speed",
     'expected one of "low", "full", "high", "super", "super_plus", got string "fast"'),
    ("health_command_string", "components[0].health_command",
     'expected an array of non-empty strings like ["a", "b"], got string "/usr/bin/true"'),
    ("components_not_array", "components",
     'expected [[components]] tables, each with an id, got string "fingerprint"'),
    ("negative_interval", "intervals.heartbeat_s",
     "expected seconds > 0 and <= 86400, got integer -1"),
    ("intervals_not_table", "intervals", "expected a table [intervals], got integer 5"),
    ("bad_broker_scheme", "broker.url",
     'expected mqtt://host:port or mqtts://host:port, got "http://broker.example:1883"'),
    ("bad_broker_port", "broker.url",
     'expected mqtt://host:port or mqtts://host:port, got "mqtt://broker.example:99999"'),
    ("empty_broker_port", "broker.url",
     'expected mqtt://host:port or mqtts://host:port, got "mqtt://broker.example:"'),
    ("broker_url_and_urls", "broker.urls",
     "set together with url in the same file; keep one: url for a single broker, urls to list "
     "every node of a cluster"),
    ("broker_urls_empty", "broker.urls", "expected an array of broker URLs like "
     '["mqtts://mqtt-1:8883", "mqtts://mqtt-2:8883"], got an empty array'),
    ("broker_urls_not_array", "broker.urls", "expected an array of broker URLs like "
     '["mqtts://mqtt-1:8883", "mqtts://mqtt-2:8883"], got string "mqtt://mqtt-1.example:1883"'),
    ("broker_urls_mixed_tls", "broker.urls[1]",
     'expected mqtts://host:port like urls[0] (all nodes TLS or none), '
     'got "mqtt://mqtt-2.example:1883"'),
    ("broker_urls_duplicate", "broker.urls[2]",
     '"mqtt://mqtt-1.example:1883" is listed twice (also urls[0]); list each node once'),
    ("broker_urls_bad_item", "broker.urls[1]",
     'expected mqtt://host:port or mqtts://host:port, got "mqtt-2.example:1883"'),
    ("missing_password_file", "broker.password_file",
     'cannot read "{bad}/no-such.password" (No such file or directory); '
     "expected an existing file the agent can read"),
    ("ca_file_without_tls", "broker.ca_file",
     "set but the url is not mqtts:// (no TLS); use mqtts://host:port"),
    ("cert_without_key", "broker.key_file",
     "missing; a client certificate needs both cert_file and key_file"),
    ("bad_topic_root", "broker.topic_root",
     'expected a topic prefix like "pantau" (no +, #, leading or trailing /), got "pantau/#"'),
    ("reconnect_min_above_max", "broker.reconnect_max_s",
     "expected at least reconnect_min_s (30), got 10"),
    ("bad_keepalive", "broker.keepalive_s", "expected an integer from 5 to 65535, got float 1.5"),
    ("missing_profile", "include[0]",
     'profile "no-such-kit" not found; looked for no-such-kit.toml in {profiles}'),
    ("bad_include_name", "include[0]",
     f'expected a profile name, {ID_RULE}, got string "../../etc/passwd"'),
    ("include_not_array", "include",
     'expected an array of profile names like ["ektp-enrollment"], got string "ektp-enrollment"'),
    ("tcp_target_without_port", "checks[0].target",
     'expected "host:port" like "10.0.0.5:443", got "10.0.0.5"'),
    ("http_target_not_url", "checks[0].target",
     'expected a URL like "http://10.0.0.5:8080/health", got "10.0.0.5:8080/health"'),
    ("expect_status_on_tcp", "checks[0].expect_status", 'only for kind = "http"'),
    ("zero_check_timeout", "checks[0].timeout_s", "expected seconds > 0 and <= 60, got integer 0"),
    ("check_without_target", "checks[0].target",
     'missing; expected a target like "10.0.0.5:443" or "http://10.0.0.5/health"'),
    ("bad_allow_class", "usb.allow_classes[1]",
     "expected an integer from 0 to 255, got integer 256"),
    ("mounts_not_list", "host.mounts",
     'expected an array of non-empty strings like ["a", "b"], got string "/"'),
    ("max_payload_too_small", "max_payload_bytes",
     "expected an integer from 1024 to 16777216, got integer 10"),
    ("syntax_error", "line 1, column 25", "invalid TOML: Illegal character '\\n'"),
    ("not_utf8", "file", "not UTF-8 text; save the file as UTF-8"),
]


@pytest.mark.parametrize(("stem", "key", "reason"), CASES, ids=[c[0] for c in CASES])
def test_bad_config_is_refused_with_file_key_and_reason(stem: str, key: str, reason: str) -> None:
    path = BAD / f"{stem}.toml"
    with pytest.raises(ConfigError) as caught:
        load_config(path, profile_dirs=[PROFILES])
    expected = reason.replace("{bad}", str(BAD)).replace("{profiles}", str(PROFILES))
    assert (caught.value.file, caught.value.key, caught.value.reason) == (str(path), key, expected)
    assert str(caught.value) == f"{path}: {key}: {expected}"


def test_every_bad_file_has_a_case() -> None:
    assert sorted(p.stem for p in BAD.glob("*.toml")) == sorted(c[0] for c in CASES)


@pytest.mark.parametrize(
    ("profile_text", "key", "reason"),
    [
        ('[[components]]\nid = "fp"\nkind = "usb"\nmatch = [{vid = "080b", pid = "2"}]\n',
         "components[0].match[0].pid", 'expected 4 hex digits like "05ba", got string "2"'),
        ('station = "medan-baru-01"\n', "station", "unknown key; expected one of: broker, "
         "intervals, usb, host, queue, components, checks, max_payload_bytes"),
        ('include = ["other"]\n', "include", "unknown key; expected one of: broker, "
         "intervals, usb, host, queue, components, checks, max_payload_bytes"),
    ],
    ids=["bad-pid", "station-in-profile", "nested-include"],
)
def test_error_in_a_profile_names_the_profile_file(
    tmp_path: Path, profile_text: str, key: str, reason: str
) -> None:
    (tmp_path / "kit.toml").write_text(profile_text)
    station = tmp_path / "agent.toml"
    station.write_text('station = "s1"\nsite = "x"\ninclude = ["kit"]\n')
    with pytest.raises(ConfigError) as caught:
        load_config(station, profile_dirs=[tmp_path])
    assert (caught.value.file, caught.value.key, caught.value.reason) == (
        str(tmp_path / "kit.toml"), key, reason)


def test_missing_config_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(tmp_path / "absent.toml")
    assert caught.value.key == "file"
    assert caught.value.reason == (
        "cannot read (No such file or directory); check the path and permissions"
    )


def test_broker_table_errors_use_the_callers_prefix() -> None:
    with pytest.raises(ConfigError) as caught:
        parse_broker({"url": "mqtt://h", "colour": "red"}, "/etc/pantau/collector.toml",
                     "the collector")
    assert str(caught.value) == (
        "/etc/pantau/collector.toml: broker.colour: unknown key; expected one of: url, urls, "
        "client_id, "
        "username, password_file, ca_file, cert_file, key_file, keepalive_s, topic_root, "
        "connect_timeout_s, reconnect_min_s, reconnect_max_s"
    )
    with pytest.raises(ConfigError, match=r"^f\.toml: collector\.broker\.url: expected mqtt://"):
        parse_broker({"url": "tcp://h:1"}, "f.toml", "the collector", key_prefix="collector.broker")
