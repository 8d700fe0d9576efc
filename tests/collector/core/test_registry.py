"""fleet.toml: a good file loads; each kind of mistake is refused with file, key and reason."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from collector.registry import Registry, RegistryError, SiteInfo, StationEntry, load_registry

GOOD = """
[sites.medan-baru]
name = "Medan Baru"
region = "Kota Medan"

[sites.medan-kota]
name = "Medan Kota"

[stations.medan-baru-01]
site = "medan-baru"
profile = "ektp-enrollment"
lifecycle = "active"

[stations.medan-baru-02]
site = "medan-baru"
profile = "ektp-enrollment"
lifecycle = "planned"

[stations.medan-kota-01]
site = "medan-kota"
"""


def test_good_registry_loads(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text(GOOD)
    registry = load_registry(path)
    assert registry.source == str(path)
    assert registry.sites == {
        "medan-baru": SiteInfo("medan-baru", "Medan Baru", "Kota Medan"),
        "medan-kota": SiteInfo("medan-kota", "Medan Kota", ""),
    }
    assert registry.stations["medan-baru-02"] == StationEntry(
        "medan-baru-02", "medan-baru", "ektp-enrollment", "planned"
    )
    # lifecycle defaults to active, profile to "" (unknown)
    assert registry.stations["medan-kota-01"] == StationEntry(
        "medan-kota-01", "medan-kota", "", "active"
    )


def test_install_by_on_a_site_and_a_station(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text('[sites.s1]\ninstall_by = 2026-12-31\n[stations.st-1]\nsite = "s1"\n'
                    'lifecycle = "planned"\ninstall_by = 2026-11-30\n')
    registry = load_registry(path)
    assert registry.sites["s1"].install_by == date(2026, 12, 31)
    assert registry.stations["st-1"].install_by == date(2026, 11, 30)


def test_empty_file_and_empty_registry_expect_nothing(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text("")
    assert (dict(load_registry(path).sites), dict(load_registry(path).stations)) == ({}, {})
    assert Registry.empty().source == "<empty>"
    assert len(Registry.empty().stations) == 0


SITE = '[sites.s1]\nname = "S1"\n'


@pytest.mark.parametrize(
    ("text", "key", "reason"),
    [
        ("colour = 1\n", "colour", "unknown key; expected one of: sites, stations, schedule"),
        ('[sites.s1]\nname = "S1"\nzone = "x"\n', "sites.s1.zone",
         "unknown key; expected one of: name, region, schedule, maintenance, install_by"),
        ('[sites."Medan Baru"]\nname = "x"\n', "sites.Medan Baru",
         "id 'Medan Baru' must match ^[a-z0-9][a-z0-9_-]{0,62}$ "
         "(lowercase letters, digits, '-' and '_')"),
        ("[sites.s1]\nname = 3\n", "sites.s1.name", "expected a string, got int 3"),
        ('sites = "s1"\n', "sites", "expected tables like [sites.<id>], got string 's1'"),
        ("sites = { s1 = 1 }\n", "sites.s1", "expected a table [sites.s1], got int 1"),
        (SITE + '[stations.st-1]\nprofile = "p"\n', "stations.st-1.site",
         "missing; expected the id of a [sites.<id>] table"),
        (SITE + '[stations.st-1]\nsite = "s2"\n', "stations.st-1.site",
         "unknown site 's2'; add [sites.s2] or fix the id"),
        (SITE + '[stations.st-1]\nsite = "s1"\nlifecycle = "live"\n', "stations.st-1.lifecycle",
         "expected one of planned, active, retired, got 'live'"),
        (SITE + '[stations.st-1]\nsite = "s1"\nprofil = "p"\n', "stations.st-1.profil",
         "unknown key; expected one of: site, profile, lifecycle, capacity_per_day, install_by"),
        ('[sites.s1]\ninstall_by = "2026-12-31"\n', "sites.s1.install_by",
         'expected a TOML date like 2026-12-31 (no quotes, no time of day), '
         'got string "2026-12-31"'),
        (SITE + '[stations.st-1]\nsite = "s1"\ninstall_by = 2026-12-31T17:00:00+07:00\n',
         "stations.st-1.install_by", "expected a TOML date like 2026-12-31 (no quotes, no time "
         "of day), got a date with a time of day"),
        (SITE + '[stations.ST1]\nsite = "s1"\n', "stations.ST1",
         "id 'ST1' must match ^[a-z0-9][a-z0-9_-]{0,62}$ (lowercase letters, digits, '-' and '_')"),
        (SITE + "[stations.st-1]\nsite = true\n", "stations.st-1.site",
         "expected a string, got boolean true"),
    ],
)
def test_bad_registry_is_refused_with_exact_message(
    tmp_path: Path, text: str, key: str, reason: str
) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text(text)
    with pytest.raises(RegistryError) as caught:
        load_registry(path)
    assert (caught.value.file, caught.value.key, caught.value.reason) == (str(path), key, reason)
    assert str(caught.value) == f"{path}: {key}: {reason}"


def test_invalid_toml_names_the_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text("[sites.s1\n")
    with pytest.raises(RegistryError) as caught:
        load_registry(path)
    assert caught.value.key == "<toml>"
    assert caught.value.reason.startswith("not valid TOML: ")
    assert "line 1" in caught.value.reason


def test_missing_file_says_what_to_do(tmp_path: Path) -> None:
    path = tmp_path / "nope.toml"
    with pytest.raises(RegistryError) as caught:
        load_registry(path)
    assert str(caught.value) == (
        f"{path}: <file>: cannot read (No such file or directory); "
        "pass an existing, readable fleet.toml"
    )


def test_example_registry_in_deploy_loads() -> None:
    path = Path(__file__).parents[3] / "deploy" / "fleet.example.toml"
    registry = load_registry(path)
    lifecycles = {entry.lifecycle for entry in registry.stations.values()}
    assert lifecycles == {"planned", "active", "retired"}
    assert registry.sites["medan-baru"].install_by == date(2026, 12, 31)
    assert registry.stations["medan-baru-03"].install_by == date(2026, 11, 30)
