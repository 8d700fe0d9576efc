"""Every page string exists in both languages; language choice; relative times."""

from __future__ import annotations

import string

import pytest

from collector.i18n import EN, ID, Lang, choose_lang, held_for, plural_key, relative_time, text

NOW = 1_732_900_000.0


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def words(template: str) -> str:
    """The template without its placeholders."""
    return "".join(literal for literal, _, _, _ in string.Formatter().parse(template))


def test_every_key_exists_in_both_languages() -> None:
    assert set(EN) == set(ID), f"only in en: {set(EN) - set(ID)}; only in id: {set(ID) - set(EN)}"


@pytest.mark.parametrize("key", sorted(EN))
def test_placeholders_match_and_strings_are_not_empty(key: str) -> None:
    assert EN[key].strip() and ID[key].strip()
    assert placeholders(EN[key]) == placeholders(ID[key])


def test_indonesian_is_actually_translated() -> None:
    # Identical strings are allowed only where the word is the same in both, or
    # where there is no word at all ("{station}: {component} {status} {when}").
    same = {k for k in EN if EN[k] == ID[k] and any(ch.isalpha() for ch in words(EN[k]))}
    assert same <= {"host_cpu", "col_status", "col_port", "host_disk"}, same


def test_plural_keys_come_in_pairs() -> None:
    stems = {k.rsplit("_", 1)[0] for k in EN if k.endswith(("_one", "_other"))}
    assert stems, "no plural keys found: the test would prove nothing"
    for stem in stems:
        assert {f"{stem}_one", f"{stem}_other"} <= set(EN), stem
        assert stem not in EN, f"{stem} exists both bare and as a plural pair"


@pytest.mark.parametrize(
    ("lang", "key", "count", "values", "expected"),
    [
        ("en", "site_rollout", 1, {"planned": 1}, "Rollout: 1 planned station not installed yet"),
        ("en", "site_rollout", 2, {"planned": 2}, "Rollout: 2 planned stations not installed yet"),
        ("en", "site_rollout", 0, {"planned": 0}, "Rollout: 0 planned stations not installed yet"),
        ("en", "site_ready", 1, {"ready": 0, "total": 1}, "0 of 1 station ready"),
        ("en", "site_ready", 3, {"ready": 1, "total": 3}, "1 of 3 stations ready"),
        ("en", "fleet_offices_open", 1, {"n": 1, "total": 1}, "1 of 1 office open now"),
        ("en", "problem_unexpected", 1, {"station": "s", "n": 1, "devices": "x"},
         "s: 1 unexpected USB device attached: x"),
        ("id", "site_rollout", 1, {"planned": 1},
         "Peluncuran: 1 stasiun yang direncanakan belum terpasang"),
        ("id", "problem_unexpected", 2, {"station": "s", "n": 2, "devices": "x, y"},
         "s: 2 perangkat USB tak dikenal terpasang: x, y"),
    ],
)
def test_plurals(lang: Lang, key: str, count: int, values: dict[str, object],
                 expected: str) -> None:
    assert text(lang, plural_key(key, count), **values) == expected


@pytest.mark.parametrize(
    ("query", "header", "expected"),
    [
        ("id", "en-US,en;q=0.9", "id"),
        ("en", "id-ID,id;q=0.9", "en"),
        (None, "id-ID,id;q=0.9,en;q=0.8", "id"),
        (None, "en-GB,en;q=0.9,id;q=0.8", "en"),
        (None, "fr-FR,fr;q=0.9,id;q=0.5", "id"),
        (None, "en;q=0.2,id;q=0.7", "id"),
        (None, "id;q=0", "en"),
        (None, "id;q=banana", "en"),
        (None, None, "en"),
        (None, "", "en"),
        ("xx", "id", "id"),  # an unsupported ?lang= falls back to the header
        ("<script>", None, "en"),
    ],
)
def test_choose_lang(query: str | None, header: str | None, expected: Lang) -> None:
    assert choose_lang(query, header) == expected


@pytest.mark.parametrize(
    ("lang", "ago_s", "expected"),
    [
        ("en", 0, "just now"),
        ("en", 4, "just now"),
        ("en", 42, "42 s ago"),
        ("en", 300, "5 min ago"),
        ("id", 300, "5 menit lalu"),
        ("en", 7200, "2 h ago"),
        ("id", 7200, "2 jam lalu"),
        ("en", 3 * 86400 + 5, "3 days ago"),
        ("en", 86400 + 5, "1 day ago"),
        ("id", 86400 + 5, "1 hari lalu"),
        ("id", 3 * 86400 + 5, "3 hari lalu"),
        ("en", -120, "2 min ahead"),  # a station clock ahead of the collector's
        ("id", -120, "2 menit lebih cepat"),
    ],
)
def test_relative_time(lang: Lang, ago_s: float, expected: str) -> None:
    assert relative_time(lang, NOW - ago_s, NOW) == expected


@pytest.mark.parametrize(("lang", "expected"), [("en", "never"), ("id", "belum pernah")])
def test_relative_time_of_nothing(lang: Lang, expected: str) -> None:
    assert relative_time(lang, None, NOW) == expected


@pytest.mark.parametrize(
    ("lang", "held_s", "expected"),
    [
        ("en", 9, "for 9 s"),
        ("id", 9, "sejak 9 detik lalu"),
        ("en", 3 * 3600 + 59, "for 3 h"),
        ("id", 3 * 3600, "sejak 3 jam lalu"),
        ("en", 86400, "for 1 day"),
        ("en", 2, "for a few seconds"),
        ("id", 0, "sejak beberapa detik lalu"),
        ("en", -120, "(station clock 2 min ahead)"),  # a start time from a clock ahead
        ("id", -120, "(jam stasiun 2 menit lebih cepat)"),
    ],
)
def test_held_for_says_a_length_not_a_moment(lang: Lang, held_s: float, expected: str) -> None:
    assert held_for(lang, NOW - held_s, NOW) == expected
    assert "ago" not in expected  # "since 5 min ago" was the bug


def test_text_fills_placeholders() -> None:
    assert text("id", "site_ready_other", ready=2, total=5) == "2 dari 5 stasiun siap"
