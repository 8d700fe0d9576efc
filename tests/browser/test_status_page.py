"""The collector's status page in a real headless Chromium (Debian package `chromium`).

The page is served by the real collector of a demo-like fleet (tests/deploy/
demo_fleet.py): simulated stations plus one station whose card reader is
unplugged and which has a USB flash drive attached, with opening hours and an
office clock that starts on a Monday at 10:00 WIB (one office closed, one kit in
maintenance). Chromium renders it and
the test reads what a person would see: the rendered text, the marks'
computed colours, the layout width. Screenshots are kept in tests/artifacts/.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from collector.i18n import EN, ID, plural_key
from tests.browser.chromium import Chromium, chromium_binary, with_page
from tests.deploy.demo_fleet import (
    BROKEN_SITE,
    BROKEN_STATION,
    CLOSED_SITE,
    MAINTAINED_STATION,
    MISSING_PART,
    SILENT_STATION,
    DemoFleet,
    collector_installed,
    get_json,
)

ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
LANGS = ("en", "id")

# What the page looks like to a reader: text, classes and computed colours.
OVERVIEW_JS = """(() => {
  const style = el => el ? getComputedStyle(el) : null;
  const cards = [...document.querySelectorAll('article.site')].map(a => ({
    text: a.innerText, classes: a.className,
    mark: a.querySelector('.mark') ? a.querySelector('.mark').className : '',
    markText: a.querySelector('.mark') ? a.querySelector('.mark').innerText : '',
    markColor: style(a.querySelector('.mark'))?.color,
    border: style(a).borderLeftColor, height: a.getBoundingClientRect().height }));
  return {lang: document.documentElement.lang, body: document.body.innerText, cards,
          overflow: document.documentElement.scrollWidth > window.innerWidth};
})()"""
STATION_JS = """(() => ({
  lang: document.documentElement.lang, body: document.body.innerText,
  badRows: [...document.querySelectorAll('tr.bad')].map(r => r.innerText),
  badBackground: document.querySelector('tr.bad td')
    ? getComputedStyle(document.querySelector('tr.bad td')).backgroundColor : '',
  overflow: document.documentElement.scrollWidth > window.innerWidth}))()"""


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    binary = chromium_binary()
    if binary is None:
        pytest.skip("chromium is not installed: `apt-get install chromium` (make deps does)")
    chromium = Chromium(binary, tmp_path_factory.mktemp("chromium") / "profile").start()
    try:
        yield chromium
    finally:
        chromium.stop()


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoFleet]:
    if not collector_installed():
        pytest.skip("no pantau-collector script next to this Python: run `make deps`")
    demo = DemoFleet(tmp_path_factory.mktemp("page-stack"), schedule=True).start()
    try:
        yield demo
    finally:
        demo.stop()


def rgb(css: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", css)[:3])


def reddish(css: str) -> bool:
    r, g, b = rgb(css)
    return r > 150 and r > 2 * g and r > 2 * b


def card(page: dict[str, Any], site: str) -> dict[str, Any]:
    return next(c for c in page["cards"] if f"({site})" in c["text"])


def strings(lang: str) -> dict[str, str]:
    return EN if lang == "en" else ID


def problem_line(lang: str) -> str:
    """The start of the broken part's line, from the catalogue (not retyped here)."""
    catalogue = strings(lang)
    template = catalogue["problem_part"].split("{when}")[0]
    return template.format(station=BROKEN_STATION, component=MISSING_PART,
                           status=catalogue["status_missing"]).strip()


@pytest.mark.slow
@pytest.mark.parametrize("lang", LANGS)
async def test_overview_marks_the_broken_station(browser: Chromium, fleet: DemoFleet,
                                                 lang: str) -> None:
    shot = ARTIFACTS / f"status-page-{lang}.png"
    page = await with_page(browser, f"{fleet.url('collector')}/?lang={lang}", OVERVIEW_JS, shot)
    assert page["lang"] == lang
    broken, healthy = card(page, BROKEN_SITE), card(page, "medan-amplas")
    assert "bad" in broken["classes"].split() and "bad" in broken["mark"].split()
    assert broken["markText"].strip().endswith(strings(lang)["mark_bad"])
    assert problem_line(lang) in broken["text"]
    assert "USB flash drive" in broken["text"]
    assert SILENT_STATION in card(page, "medan-area")["text"]  # never seen: also a problem
    # Visibly marked: a red edge and a mark coloured unlike a healthy site's.
    assert reddish(broken["border"]) and not reddish(healthy["border"])
    assert broken["markColor"] != healthy["markColor"]
    assert "bad" not in healthy["classes"].split() and healthy["height"] > 0
    assert not page["overflow"], "the overview is wider than a 1280 px window"
    assert shot.stat().st_size > 10_000


@pytest.mark.slow
@pytest.mark.parametrize("lang", LANGS)
async def test_station_page_marks_the_missing_part(browser: Chromium, fleet: DemoFleet,
                                                   lang: str) -> None:
    shot = ARTIFACTS / f"station-page-{lang}.png"
    url = f"{fleet.url('collector')}/stations/{BROKEN_STATION}?lang={lang}"
    page = await with_page(browser, url, STATION_JS, shot)
    assert page["lang"] == lang
    missing = [row for row in page["badRows"] if MISSING_PART in row]
    assert missing and strings(lang)["status_missing"] in missing[0]
    assert any("ministry-vpn" in row for row in page["badRows"])  # the failing check
    assert not any("fingerprint" in row for row in page["badRows"])
    assert page["badBackground"] not in ("", "rgba(0, 0, 0, 0)", "rgb(255, 255, 255)")
    assert not page["overflow"]


def english_only_phrases() -> list[str]:
    """Catalogue strings that differ in Indonesian and have no placeholder to vary them."""
    return [en for key, en in EN.items()
            if "{" not in en and ID.get(key) != en and len(en) >= 5]


@pytest.mark.slow
@pytest.mark.parametrize("path", ["/", f"/stations/{BROKEN_STATION}"])
async def test_indonesian_pages_show_no_english(browser: Chromium, fleet: DemoFleet,
                                                path: str) -> None:
    page = await with_page(browser, f"{fleet.url('collector')}{path}?lang=id", STATION_JS)
    left = [p for p in english_only_phrases() if p in page["body"]]
    assert not left, f"English text on the Indonesian page {path}: {left}"


HOURS_JS = """(() => ({
  header: document.querySelector('header').innerText,
  filter: document.querySelector('a.filter') ? document.querySelector('a.filter').innerText : '',
  cards: [...document.querySelectorAll('article.site')].map(a => ({
    text: a.innerText, bad: a.classList.contains('bad'),
    hours: a.querySelector('p.hours') ? a.querySelector('p.hours').innerText : ''}))}))()"""


def fleet_sentence(lang: str, fleet: dict[str, int]) -> str:
    catalogue = strings(lang)
    return " · ".join((
        catalogue[plural_key("fleet_offices_open", fleet["offices"])].format(
            n=fleet["open"], total=fleet["offices"]),
        catalogue["fleet_can_enroll"].format(n=fleet["can_enroll"]),
        catalogue[plural_key("fleet_capacity", fleet["capacity_today"])].format(
            n=fleet["capacity_today"]),
    ))


@pytest.mark.slow
@pytest.mark.parametrize("lang", LANGS)
async def test_offices_show_their_hours_capacity_and_problems_first(
    browser: Chromium, fleet: DemoFleet, lang: str
) -> None:
    catalogue = strings(lang)
    page = await with_page(browser, f"{fleet.url('collector')}/?lang={lang}", HOURS_JS)
    api = get_json(fleet.url("collector") + "/api/v1/sites")
    assert fleet_sentence(lang, api["fleet"]) in page["header"]
    assert api["fleet"]["open"] == 2 and api["fleet"]["offices"] == 3
    closed = card(page, CLOSED_SITE)
    opens = catalogue["hours_opens_on"].format(day=catalogue["day_5"], time="08:00")
    assert closed["hours"].startswith(catalogue["hours_closed"])
    assert "(WIT)" in closed["hours"] and opens in closed["hours"]  # Jayapura's own clock
    amplas = card(page, "medan-amplas")
    assert amplas["hours"].startswith(catalogue["hours_open"]) and "(WIB)" in amplas["hours"]
    assert MAINTAINED_STATION in amplas["text"]
    assert catalogue["maintenance_station"].split("{time}")[0].format(
        station=MAINTAINED_STATION).strip() in amplas["text"]
    badness = [c["bad"] for c in page["cards"]]
    assert badness == sorted(badness, reverse=True), "a healthy card before a broken one"
    assert card(page, BROKEN_SITE)["bad"]


@pytest.mark.slow
@pytest.mark.parametrize("lang", LANGS)
async def test_the_open_now_filter(browser: Chromium, fleet: DemoFleet, lang: str) -> None:
    page = await with_page(browser, f"{fleet.url('collector')}/?open=1&lang={lang}", HOURS_JS)
    shown = {re.search(r"\(([a-z0-9-]+)\)", c["text"])[1] for c in page["cards"]}  # type: ignore[index]
    assert shown == {"medan-amplas", BROKEN_SITE}
    assert page["filter"] == strings(lang)["filter_all"]
