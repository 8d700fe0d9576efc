"""HTML building blocks shared by the status pages: escaping, marks, times, tables.

`Markup` marks a string that is already HTML; everything else is escaped on
the way in, so a station detail like `<script>` from the field stays text.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from functools import cache
from importlib.resources import files
from typing import Final

from aiohttp import web

from collector.i18n import Lang, choose_lang, held_for, relative_time, template
from collector.rfc3339 import utc_cell

REFRESH_S: Final = 30
# States shown as a problem; `planned` is rollout progress, never a problem.
DOWN_STATES: Final = frozenset({"offline", "lost", "stale", "never_seen"})
_CSP: Final = "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'"


class Markup(str):
    """A string that is already HTML, so `h()` does not escape it again."""


def esc(value: object) -> Markup:
    return Markup(html.escape(str(value)))


def h(lang: Lang, key: str, **values: object) -> Markup:
    """Translated string `key` as HTML: the template and every plain value escaped."""
    safe = {k: v if isinstance(v, Markup) else html.escape(str(v)) for k, v in values.items()}
    return Markup(html.escape(template(lang, key)).format(**safe))


def when(lang: Lang, ts: float | None, at: float) -> Markup:
    """Relative time ("5 min ago"), with the exact UTC time in the tooltip."""
    if ts is None:
        return h(lang, "never")
    return _time(ts, relative_time(lang, ts, at))


def held(lang: Lang, since: float, at: float) -> Markup:
    """How long a state has lasted ("for 5 min"), with its start time in the tooltip."""
    return _time(since, held_for(lang, since, at))


def _time(ts: float, shown: str) -> Markup:
    iso = utc_cell(ts)
    return Markup(f'<time datetime="{iso}" title="{iso}">{esc(shown)}</time>')


def agent_text(value: str) -> Markup:
    """Text the agent wrote (always English): tagged so readers and tools see it as such."""
    return Markup(f'<span class=agent lang=en>{esc(value)}</span>') if value else Markup()


def site_label(name: str, site: str) -> Markup:
    """"Medan Baru (medan-baru)": the name people use, the id as a secondary, unbroken word."""
    label = esc(name)
    if name != site:
        label = Markup(f"{label} <span class=site-id>({esc(site)})</span>")
    return label


def mark(lang: Lang, bad: bool) -> Markup:
    if bad:
        return Markup(f'<span class="mark bad">&#10006; {h(lang, "mark_bad")}</span>')
    return Markup(f'<span class="mark ok">&#10004; {h(lang, "mark_ok")}</span>')


def table(headers: Sequence[Markup], rows: Iterable[tuple[bool, Sequence[Markup]]],
          lang: Lang) -> Markup:
    """A table whose bad rows are tinted; "None." when there are no rows."""
    body = "".join(
        f'<tr{" class=bad" if bad else ""}>' + "".join(f"<td>{c}</td>" for c in cells) + "</tr>"
        for bad, cells in rows
    )
    if not body:
        return Markup(f"<p>{h(lang, 'none')}</p>")
    head = "".join(f"<th>{c}</th>" for c in headers)
    return Markup(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


@cache
def _css() -> str:
    return files("collector").joinpath("static/page.css").read_text(encoding="utf-8")


def render(lang: Lang, title: str, header: Markup, main: Markup, status: int = 200) -> web.Response:
    other: Lang = "id" if lang == "en" else "en"
    document = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f'<meta http-equiv="refresh" content="{REFRESH_S}">'
        f"<title>{esc(title)}</title><style>{_css()}</style></head><body>"
        f'<header><a href="?lang={other}" hreflang="{other}">{h(lang, "switch_lang")}</a>'
        f"{header}</header><main>{main}</main></body></html>"
    )
    resp = web.Response(
        text=document, status=status, content_type="text/html", charset="utf-8",
        headers={"Content-Language": lang, "Vary": "Accept-Language",
                 "Cache-Control": "no-store",
                 # Defence in depth behind escaping: the page needs no script at all.
                 "Content-Security-Policy": _CSP},
    )
    resp.enable_compression()  # district links are thin; the overview shrinks ~10x
    return resp


def request_lang(request: web.Request) -> Lang:
    return choose_lang(request.query.get("lang"), request.headers.get("Accept-Language"))


def station_link(lang: Lang, station: str) -> Markup:
    return Markup(f'<a href="/stations/{esc(station)}?lang={lang}">{esc(station)}</a>')


