"""The status page and station page, rendered by a real server in both languages."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from importlib.resources import files

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from collector.fleet import Fleet
from collector.i18n import EN, ID
from collector.registry import Registry
from collector.store import Store
from tests.collector.http.conftest import make_app
from tests.collector.http.scenario import HOSTILE, NOW, birth, build_fleet

Client = TestClient[web.Request, web.Application]


class Elements(HTMLParser):
    """Collects tags (to prove the hostile string did not become one) and visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(document: str) -> Elements:
    parser = Elements()
    parser.feed(document)
    return parser


async def get_page(client: Client, path: str, status: int = 200,
                   accept_language: str | None = None) -> str:
    headers = {"Accept-Language": accept_language} if accept_language else {}
    resp = await client.get(path, headers=headers)
    assert resp.status == status
    assert resp.content_type == "text/html"
    return await resp.text()


def site_card(document: str, site_id: str) -> str:
    match = re.search(rf'<article class="site[^"]*">(?:(?!</article>).)*\({site_id}\)'
                      r"(?:(?!</article>).)*</article>", document)
    assert match, f"no card for {site_id}"
    return match.group(0)


async def test_overview_marks_broken_site_with_text_not_only_colour(client: Client) -> None:
    page = await get_page(client, "/?lang=en")
    baru = site_card(page, "medan-baru")
    assert baru.startswith('<article class="site bad">')
    assert "&#10006; PROBLEM" in baru
    text = html.unescape(re.sub(r"<[^>]+>", "", baru))
    assert "medan-baru-02: fingerprint missing for 5 min" in text
    assert "medan-baru-02: iris failed for 2 h" in text
    assert f"medan-baru-02: 2 unexpected USB devices attached: USB flash drive, {HOSTILE}" \
        in text
    assert "1 of 2 stations ready" in text and "can enroll today" in text
    assert '<a href="/stations/medan-baru-02?lang=en">' in baru
    assert "since" not in text and "ago" not in text  # "missing since 5 min ago" was the bug


async def test_overview_down_stations_and_rollout(client: Client) -> None:
    page = await get_page(client, "/?lang=en")
    kota = html.unescape(re.sub(r"<[^>]+>", "", site_card(page, "medan-kota")))
    assert "medan-kota-01: connection lost for 2 h" in kota
    # Never reported: no time at all (it would only be when the collector started).
    assert "medan-kota-02 has never reported (registered, expected to work)" in kota
    assert "since" not in kota and "ago" not in kota
    assert "cannot enroll today" in kota
    # Planned stations are rollout progress, never a problem.
    binjai = site_card(page, "binjai-utara")
    assert binjai.startswith('<article class="site">') and "PROBLEM" not in binjai
    assert "Rollout: 1 planned station not installed yet" in html.unescape(binjai)
    assert "medan-baru-03" not in page


@pytest.mark.parametrize("lang", ["en", "id"])
async def test_card_title_keeps_the_site_id_whole(client: Client, lang: str) -> None:
    card = site_card(await get_page(client, f"/?lang={lang}"), "medan-kota")
    # The id sits in its own span that page.css keeps on one line (no "(medan-" / "kota)").
    assert "Medan Kota <span class=site-id>(medan-kota)</span></h3>" in card


def test_site_id_span_does_not_wrap() -> None:
    css = files("collector").joinpath("static/page.css").read_text(encoding="utf-8")
    rule = re.search(r"\.site-id\s*\{([^}]*)\}", css)
    assert rule and "white-space: nowrap" in rule.group(1)


async def test_overview_header_totals_and_regions(client: Client) -> None:
    page = await get_page(client, "/")
    header = html.unescape(re.sub(r"<[^>]+>", " ", page.split("</header>")[0]))
    for fragment in ("5  stations", "2  ready", "2  down", "2  planned",
                     "3 of 3 offices open now · 2 can enroll · capacity today 200 people",
                     "just now"):
        assert fragment in header
    # Problems first: Kota Medan's sites have some; then by name, no region last.
    regions = re.findall(r"<h2>([^<]+)</h2>", page)
    assert regions == ["Kota Medan", "Kota Binjai", "(no region)"]
    assert 'http-equiv="refresh"' in page and "<script" not in page.lower()


async def test_page_forbids_scripts_by_policy(client: Client) -> None:
    resp = await client.get("/")
    assert "default-src 'none'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["Vary"] == "Accept-Language"


@pytest.mark.parametrize(
    ("path", "accept", "lang", "phrases"),
    [
        ("/?lang=id", None, "id", ["fingerprint tidak terdeteksi sejak 5 menit lalu",
                                   "medan-kota-01: koneksi terputus sejak 2 jam lalu",
                                   "medan-kota-02 belum pernah melapor",
                                   "Peluncuran: 1 stasiun yang direncanakan belum terpasang",
                                   "1 dari 2 stasiun siap", "English"]),
        ("/", "id-ID,id;q=0.9", "id", ["bisa melayani perekaman hari ini"]),
        ("/", "en-US", "en", ["fingerprint missing for 5 min", "Bahasa Indonesia"]),
        ("/?lang=en", "id", "en", ["can enroll today"]),
        ("/stations/medan-baru-02?lang=id", None, "id", ["Komponen", "5 menit lalu",
                                                         "Kejadian terbaru", "rusak",
                                                         "daring sejak 1 jam lalu",
                                                         "7 hari lalu"]),
    ],
)
async def test_both_languages_render(client: Client, path: str, accept: str | None, lang: str,
                                     phrases: list[str]) -> None:
    page = await get_page(client, path, accept_language=accept)
    assert f'<html lang="{lang}">' in page
    text = html.unescape(re.sub(r"<[^>]+>", "", page))
    for phrase in phrases:
        assert phrase in text


@pytest.mark.parametrize("lang", ["en", "id"])
async def test_no_untranslated_string_leaks(client: Client, lang: str) -> None:
    other = ID if lang == "en" else EN
    mine = EN if lang == "en" else ID
    page = html.unescape(await get_page(client, f"/stations/medan-baru-02?lang={lang}"))
    # Section titles of the other language must not appear (they differ in every case).
    for key in ("components", "checks", "host", "events", "back"):
        assert other[key] not in page and mine[key] in page


@pytest.mark.parametrize("path", ["/", "/stations/medan-baru-02", "/?lang=id"])
async def test_hostile_detail_is_escaped(client: Client, path: str) -> None:
    page = await get_page(client, path)
    parsed = parse(page)
    assert "script" not in parsed.tags
    assert html.escape(HOSTILE) in page
    assert HOSTILE in "".join(parsed.text)


async def test_station_page_sections(client: Client) -> None:
    page = await get_page(client, "/stations/medan-baru-02?lang=en")
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))
    # "in this state for", not "last online at": the reviewer read "online (9 s ago)" so.
    assert "PROBLEM" in text and "online for 1 h" in text
    assert "Office Medan Baru (medan-baru)" in text  # the name people use, then the id
    assert len(re.findall(r"<tr class=bad>", page)) >= 3  # 2 parts + flash drive + events
    for fragment in ("12 ms", "55%", "54 °C", "Booted 7 days ago",
                     "0781:5567 USB flash drive", "05ba:000a Acme iris #SN-iris 1-2 high",
                     "missing → ok"):
        assert fragment in text, fragment


@pytest.mark.parametrize(("lang", "says"), [
    ("en", "Recent events are not shown: event history cannot be read: "),
    ("id", "Kejadian terbaru tidak ditampilkan: event history cannot be read: "),
])
async def test_station_page_stands_when_the_history_cannot_be_read(
    client: Client, store: Store, lang: str, says: str
) -> None:
    store.path.unlink()  # a data directory wiped under the running collector
    page = await get_page(client, f"/stations/medan-baru-02?lang={lang}")
    text = re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", page)))
    assert says in text and str(store.path) in text
    assert "05ba:000a Acme iris" in text  # the live sections are all there


async def test_disk_is_a_row_of_the_host_health_box(client: Client) -> None:
    page = await get_page(client, "/stations/medan-baru-02?lang=en")
    host = page.split("<h2>Host health</h2>")[1].split("</section>")[0]
    assert host.startswith("<dl>") and host.endswith("</dl>") and "<li>" not in host
    assert "<dt>Disk /</dt><dd>61% used, 51.2 GB free</dd></dl>" in host


@pytest.mark.parametrize("lang", ["en", "id"])
async def test_agent_messages_are_labelled_as_the_agents(client: Client, lang: str) -> None:
    page = await get_page(client, f"/stations/medan-baru-02?lang={lang}")
    catalogue = EN if lang == "en" else ID
    assert f"<th>{html.escape(catalogue['col_detail'])}</th>" in page
    # The field text stays as the agent wrote it, marked English even on the Indonesian page.
    assert f"<span class=agent lang=en>{html.escape(HOSTILE)}</span>" in page


@pytest.mark.parametrize(
    ("path", "lang", "message"),
    [
        ("/stations/nobody-01", "en", "There is no station nobody-01."),
        ("/stations/nobody-01?lang=id", "id", "Stasiun nobody-01 tidak ada."),
        ("/stations/%3Cscript%3Ex", "en", "There is no station <script>x."),
    ],
)
async def test_unknown_station_page_is_404(client: Client, path: str, lang: str,
                                           message: str) -> None:
    page = await get_page(client, path, status=404)
    assert "script" not in parse(page).tags
    assert message in html.unescape(page)


async def test_never_seen_station_page_says_so(client: Client) -> None:
    page = html.unescape(await get_page(client, "/stations/medan-kota-02?lang=en"))
    assert "PROBLEM" in page and "never reported" in page
    assert "registered and expected to work; the agent has never connected" in page
    assert "No host health reported yet." in page


async def test_empty_fleet_page_explains_itself() -> None:
    app = make_app(Fleet(Registry.empty(), now=NOW), None)
    async with TestClient(TestServer(app)) as client:
        page = await get_page(client, "/?lang=id")
    assert "Belum ada stasiun yang terdaftar atau melapor." in page


@pytest.mark.parametrize(("lang", "note"), [
    ("en", "Connected, first report not in yet: medan-kota-02"),
    ("id", "Sudah terhubung, laporan pertama belum masuk: medan-kota-02"),
])
async def test_connected_station_without_a_report_is_explained(lang: str, note: str) -> None:
    fleet, _ = build_fleet()
    birth(fleet, "medan-kota", "medan-kota-02", NOW)  # online, no heartbeat yet
    async with TestClient(TestServer(make_app(fleet, None))) as client:
        card = site_card(await get_page(client, f"/?lang={lang}"), "medan-kota")
    assert note in html.unescape(re.sub(r"<[^>]+>", "", card))
    assert "never reported" not in card and "belum pernah melapor" not in card
