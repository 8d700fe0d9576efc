"""The simulated fleet's layout and registry (pure), and the CLI's refusals."""

from __future__ import annotations

import tomllib

import pytest

from agent.cli import main
from agent.sim.fleet import MEDAN_KECAMATAN, layout, registry_toml
from pantau.wire import is_valid_id


@pytest.mark.parametrize(("stations", "sites", "offset", "expected"), [
    (1, 21, 0, [("medan-amplas", "medan-amplas-01")]),
    (3, 2, 0, [("medan-amplas", "medan-amplas-01"), ("medan-area", "medan-area-01"),
               ("medan-amplas", "medan-amplas-02")]),
    (2, 2, 20, [("medan-tuntungan", "medan-tuntungan-01"), ("site-022", "site-022-01")]),
])
def test_layout(stations: int, sites: int, offset: int,
                expected: list[tuple[str, str]]) -> None:
    assert layout(stations, sites, offset) == expected


def test_medan_fleet_registry() -> None:
    pairs = layout(150, 21)
    assert len(MEDAN_KECAMATAN) == 21 and len(set(pairs)) == 150
    assert all(is_valid_id(s) and is_valid_id(st) for s, st in pairs)
    fleet = tomllib.loads(registry_toml(pairs))
    assert set(fleet["sites"]) == set(MEDAN_KECAMATAN)
    assert fleet["sites"]["medan-baru"] == {"name": "Medan Baru", "region": "Kota Medan"}
    assert {v["lifecycle"] for v in fleet["stations"].values()} == {"active"}
    assert len(fleet["stations"]) == 150


@pytest.mark.parametrize(("argv", "message"), [
    (["--broker", "mqtt://127.0.0.1:9", "--stations", "500"], "at most 160 stations"),
    (["--broker", "http://example"], "give mqtt://host:port"),
])
def test_simulate_refuses(argv: list[str], message: str,
                          capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["simulate", *argv]) == 2
    assert message in capsys.readouterr().err
