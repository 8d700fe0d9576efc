"""Collector config: defaults, file, flags over file, and named refusals."""

from __future__ import annotations

from pathlib import Path

import pytest

from collector.config import CliOverrides, default_client_id, load_collector_config
from pantau.config import ConfigError


def write(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "collector.toml"
    path.write_text(body)
    return path


def test_broker_flag_alone_gives_a_complete_config(tmp_path: Path) -> None:
    config = load_collector_config(None, CliOverrides(broker="mqtt://10.0.0.5:1884"))
    assert (config.broker.host, config.broker.port, config.broker.tls) == ("10.0.0.5", 1884, False)
    assert (config.http.host, config.http.port) == ("127.0.0.1", 9620)
    assert config.broker.client_id and config.broker.client_id.startswith("pantau-collector-")
    assert config.state.stale_factor == 3.0 and config.state.retention_days == 90.0


def test_flags_override_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[broker]\nurl = "mqtt://a:1"\nclient_id = "c1"\n'
                           '[http]\nlisten = "0.0.0.0:1"\n[state]\ndata_dir = "d"\n')
    flags = CliOverrides(broker="mqtts://b:2", listen="127.0.0.1:3", data_dir=Path("/x"),
                         registry=Path("/r.toml"))
    config = load_collector_config(path, flags)
    assert (config.broker.host, config.broker.tls, config.broker.client_id) == ("b", True, "c1")
    assert (config.http.port, config.state.data_dir, config.registry) == (3, Path("/x"),
                                                                          Path("/r.toml"))


def test_relative_paths_resolve_against_the_file(tmp_path: Path) -> None:
    config = load_collector_config(write(tmp_path, 'registry = "fleet.toml"\nsites = ["a-1"]\n'),
                                   CliOverrides())
    assert config.registry == tmp_path / "fleet.toml" and config.sites == ("a-1",)


@pytest.mark.parametrize(
    ("body", "key", "reason"),
    [
        ("colour = 1\n", "colour", "unknown key"),
        ("[http]\nport = 1\n", "http.port", "unknown key"),
        ('[http]\nlisten = "9620"\n', "http.listen", "host:port"),
        ("[state]\nretention_days = -1\n", "state.retention_days", "> 0"),
        ('[broker]\nurl = "tcp://x"\n', "broker.url", "mqtt://"),
        ('[broker]\ntopic_root = "x"\n', "broker.topic_root", "top-level topic_root"),
        ('sites = "medan"\n', "sites", "array of site ids"),
        ('topic_root = "a/#"\n', "topic_root", "no +, #"),
        ("[broker\n", "line 1", "invalid TOML"),
    ],
)
def test_bad_config_names_file_key_and_reason(
    tmp_path: Path, body: str, key: str, reason: str
) -> None:
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as err:
        load_collector_config(path, CliOverrides())
    assert str(path) in str(err.value) and key in str(err.value) and reason in str(err.value)


def test_bad_broker_flag_names_the_flag() -> None:
    with pytest.raises(ConfigError, match="--broker"):
        load_collector_config(None, CliOverrides(broker="localhost:1883"))


@pytest.mark.parametrize(("value", "shown"), [
    ("10", "integer 10"), ('"lots"', 'string "lots"'), ("20000000", "integer 20000000"),
    ("5e4", "float 50000.0"),
])
def test_max_pending_rows_is_bounded_with_an_exact_message(
    tmp_path: Path, value: str, shown: str
) -> None:
    path = write(tmp_path, f"[state]\nmax_pending_rows = {value}\n")
    with pytest.raises(ConfigError) as err:
        load_collector_config(path, CliOverrides())
    assert str(err.value) == (f"{path}: state.max_pending_rows: expected an integer from 1000 "
                              f"to 10000000, got {shown}")


def test_max_pending_rows_defaults_to_100000_and_is_read() -> None:
    assert load_collector_config(None, CliOverrides()).state.max_pending_rows == 100_000


def test_max_pending_rows_from_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "[state]\nmax_pending_rows = 2500\n")
    assert load_collector_config(path, CliOverrides()).state.max_pending_rows == 2500


@pytest.mark.parametrize(("body", "replica", "client_id"), [
    ("", None, default_client_id()),
    ('replica = "a"\n', "a", "pantau-collector-a"),
    ('replica = "b"\n[broker]\nusername = "pantau-collector-b"\n', "b", "pantau-collector-b"),
    ('replica = "b"\n[broker]\nusername = "x"\nclient_id = "x"\n', "b", "x"),
])
def test_replica_sets_the_client_id(
    tmp_path: Path, body: str, replica: str, client_id: str
) -> None:
    config = load_collector_config(write(tmp_path, body), CliOverrides())
    assert (config.replica, config.broker.client_id) == (replica, client_id)


@pytest.mark.parametrize(("body", "message"), [
    ('replica = "a"\n[broker]\nusername = "pantau-collector"\n',
     "broker.username: replica 'a' must log in as its own broker account, named like its "
     "client id 'pantau-collector-a', not 'pantau-collector': replicas sharing an account "
     "kick each other off the broker (docs/replicas.md)"),
    ('replica = "A/1"\n',
     "replica: expected an id matching ^[a-z0-9][a-z0-9_-]{0,62}$ (lowercase letters, digits, "
     "'-' and '_', at most 63 characters), got string \"A/1\""),
])
def test_bad_replica_config_is_refused_with_an_exact_message(
    tmp_path: Path, body: str, message: str
) -> None:
    path = write(tmp_path, body)
    with pytest.raises(ConfigError) as err:
        load_collector_config(path, CliOverrides())
    assert str(err.value) == f"{path}: {message}"
