"""Every page string exists in both languages; language choice; relative times."""

from __future__ import annotations

import string

import pytest

from collector.i18n import EN, ID, Lang, choose_lang, relative_time, text

NOW = 1_732_900_000.0


def placeholders(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_key_exists_in_both_languages() -> None:
    assert set(EN) == set(ID), f"only in en: {set(EN) - set(ID)}; only in id: {set(ID) - set(EN)}"


@pytest.mark.parametrize("key", sorted(EN))
def test_placeholders_match_and_strings_are_not_empty(key: str) -> None:
    assert EN[key].strip() and ID[key].strip()
    assert placeholders(EN[key]) == placeholders(ID[key])


def test_indonesian_is_actually_translated() -> None:
    # Identical strings are allowed only where the word is the same in both.
    same = {k for k in EN if EN[k] == ID[k]}
    assert same <= {"host_cpu", "col_status", "col_port"}, same


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


def test_text_fills_placeholders() -> None:
    assert text("id", "site_ready", ready=2, total=5) == "2 dari 5 stasiun siap"
