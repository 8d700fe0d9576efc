"""`[broker] urls`: a clustered broker's nodes, in order; a later file's url or urls wins whole."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from agent.config import load_config
from pantau.broker_config import BrokerEndpoint, parse_broker

NODES = ["mqtts://mqtt-1.example:8883", "mqtts://mqtt-2.example", "mqtts://[::1]:8884"]


def test_urls_give_every_node_in_order() -> None:
    broker = parse_broker({"urls": NODES}, "collector.toml", "the collector")
    assert broker.endpoints == (
        BrokerEndpoint(NODES[0], "mqtt-1.example", 8883),
        BrokerEndpoint(NODES[1], "mqtt-2.example", 8883),
        BrokerEndpoint(NODES[2], "::1", 8884),
    )
    # The first node is also `url`: what logs and summaries name as "the broker".
    assert (broker.url, broker.host, broker.port, broker.tls) == (NODES[0], "mqtt-1.example",
                                                                  8883, True)


def test_a_single_url_is_a_list_of_one() -> None:
    for table in ({"url": NODES[0]}, {"urls": NODES[:1]}):
        broker = parse_broker(table, "collector.toml", "the collector")
        assert broker.endpoints == (BrokerEndpoint(NODES[0], "mqtt-1.example", 8883),)


@pytest.mark.parametrize(
    ("profile", "station", "expected"),
    [
        (f'urls = ["{NODES[0]}", "{NODES[1]}"]', f'url = "{NODES[2]}"', NODES[2:]),
        (f'url = "{NODES[2]}"', f'urls = ["{NODES[0]}", "{NODES[1]}"]', NODES[:2]),
        (f'urls = ["{NODES[0]}", "{NODES[1]}"]', "keepalive_s = 60", NODES[:2]),
    ],
    ids=["station-url-replaces-profile-urls", "station-urls-replace-profile-url",
         "profile-urls-kept"],
)
def test_station_file_replaces_the_profiles_list_whole(
    tmp_path: Path, profile: str, station: str, expected: list[str]
) -> None:
    (tmp_path / "kit.toml").write_text(f"[broker]\n{profile}\n")
    path = tmp_path / "agent.toml"
    path.write_text(f'station = "s1"\nsite = "x"\ninclude = ["kit"]\n[broker]\n{station}\n')
    config = load_config(path, profile_dirs=[tmp_path])
    assert [node.url for node in config.broker.endpoints] == expected


REPO = Path(__file__).resolve().parents[3]


@pytest.mark.parametrize("name", ["agent", "collector"])
def test_the_examples_commented_urls_line_is_a_valid_list(name: str) -> None:
    text = (REPO / "deploy" / f"{name}.example.toml").read_text()
    line = next(ln for ln in text.splitlines() if ln.startswith("# urls = "))
    broker = parse_broker(tomllib.loads(line[2:]), f"{name}.example.toml", f"the {name}")
    assert [n.host for n in broker.endpoints] == [f"nats-{i}.pantau.example" for i in (1, 2, 3)]
    assert broker.tls
