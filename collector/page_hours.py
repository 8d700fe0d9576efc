"""The opening-hours lines of a site card: open/closed/maintenance with the office's
local time and next opening, today's capacity, maintenance windows, and the kits
switched off after closing (not a problem: they are expected back at opening).
"""

from __future__ import annotations

from datetime import UTC, datetime

from collector.i18n import Lang, plural_key, text
from collector.offices import Office
from collector.page_html import Markup, h, station_link
from collector.site_capacity import counts_today
from collector.station import StationView


def clock(moment: datetime) -> str:
    return moment.strftime("%H:%M")


def hours_line(lang: Lang, office: Office) -> Markup:
    """"Closed · 06:40 local time (WIB) · opens at 08:00"; nothing for an unscheduled site."""
    local = office.local
    if local is None:
        return Markup()
    parts = [h(lang, f"hours_{office.state}"),
             h(lang, "hours_local", time=clock(local), zone=local.tzname() or "")]
    if not office.hours.open:
        parts.append(next_opening(lang, office))
    body = " &middot; ".join(parts[1:])
    return Markup(f'<p class="hours {office.state}"><b>{parts[0]}</b> &middot; {body}</p>')


def next_opening(lang: Lang, office: Office) -> Markup:
    nxt = office.next_open_local
    if nxt is None:
        return h(lang, "hours_no_opening")
    if office.opens_today:
        return h(lang, "hours_opens_today", time=clock(nxt))
    return h(lang, "hours_opens_on", day=text(lang, f"day_{nxt.weekday()}"), time=clock(nxt))


def capacity_line(lang: Lang, office: Office) -> Markup:
    if office.site.total == 0:
        return Markup()
    kits, people = office.capacity.kits, office.capacity.people
    key = "capacity_ready" if office.hours.open else "capacity_expected"
    return Markup(f'<p class="capacity">{h(lang, plural_key(key, kits), kits=kits, people=people)}'
                  "</p>")


def maintenance_lines(lang: Lang, office: Office) -> list[Markup]:
    lines = []
    window = office.hours.maintenance
    if window is not None:
        lines.append(h(lang, "maintenance_site", time=_until(office, window.end),
                       reason=window.reason or "-"))
    lines += [h(lang, "maintenance_station", station=station_link(lang, station),
                time=_until(office, w.end), reason=w.reason or "-")
              for station, w in office.stations_in_maintenance]
    return [Markup(f'<p class="maintenance">{line}</p>') for line in lines]


def _until(office: Office, office_ts: float) -> str:
    local = office.local_at(office_ts)
    if local is None:  # a site without a schedule has no time zone
        return f"{clock(datetime.fromtimestamp(office_ts, UTC))} UTC"
    return clock(local)


def switched_off(office: Office, view: StationView) -> bool:
    """Closed, and the kit went off the way kits do at night: expected back at opening."""
    hours = office.hours
    return not hours.open and view.state != "online" and counts_today(view, hours)


def switched_off_note(lang: Lang, office: Office, views: list[StationView]) -> Markup:
    names = [v.station for v in views if switched_off(office, v)]
    if not names:
        return Markup()
    links = Markup(", ".join(station_link(lang, s) for s in names))
    return Markup(f"<p class=muted>{h(lang, 'site_switched_off', stations=links)}</p>")
