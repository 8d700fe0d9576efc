"""/api/v1/sites bodies: each office's readiness, opening hours, capacity; the fleet line.

Fields are a contract (README "HTTP API"). Times are epoch seconds on the
collector's clock, plus the office's own wall-clock time as ISO 8601 with its
UTC offset (`local_time`, `next_open_local`). The `enrollment` phrase is English,
like the API's other prose; the status page has it in both languages.
"""

from __future__ import annotations

from collector.offices import FleetLine, Office
from collector.schedule import Window


def site_json(office: Office) -> dict[str, object]:
    site = office.site
    return {
        "site": site.site, "name": site.name, "region": site.region,
        "registered": site.registered, "ready": site.ready, "total": site.total,
        "planned": site.planned, "stations": dict(site.stations),
        "can_enroll_today": office.can_enroll_today, "enrollment": enrollment(office),
        "hours": hours_json(office),
        "capacity_today": office.capacity.people, "kits_today": office.capacity.kits,
    }


def hours_json(office: Office) -> dict[str, object]:
    hours, local, nxt = office.hours, office.local, office.next_open_local
    return {
        "state": office.state, "scheduled": hours.schedule is not None,
        "timezone": hours.schedule.zone.key if hours.schedule is not None else None,
        "local_time": local.isoformat(timespec="seconds") if local else None,
        "open_since": hours.open_since, "next_open": hours.next_open,
        "next_open_local": nxt.isoformat(timespec="minutes") if nxt else None,
        "maintenance": (window_json(office, hours.maintenance)
                        if hours.maintenance is not None else None),
        "stations_in_maintenance": [
            {"station": station, **window_json(office, window)}
            for station, window in office.stations_in_maintenance
        ],
    }


def window_json(office: Office, window: Window) -> dict[str, object]:
    real = office.clock.real
    return {"reason": window.reason, "start": real(window.start), "end": real(window.end)}


def enrollment(office: Office) -> str:
    """"yes: ..." / "no: ...", the answer to "can this office enroll today"."""
    site, kits, nxt = office.site, office.capacity.kits, office.next_open_local
    if site.total == 0:
        return f"no: no station installed yet ({site.planned} planned)"
    if office.hours.maintenance is not None:
        return f"no: in maintenance ({office.hours.maintenance.reason or 'no reason given'})"
    if office.hours.open:
        if site.ready:
            return f"yes: {site.ready} of {site.total} stations ready"
        return f"no: none of {site.total} stations ready"
    if nxt is None:
        return "no: closed, no opening ahead"
    opens = nxt.strftime("%H:%M") if office.opens_today else nxt.strftime("%a %H:%M")
    if not office.opens_today:
        return f"no: closed for today; opens {opens}"
    if kits:
        return f"yes: opens at {opens}, {kits} of {site.total} stations expected ready"
    return f"no: opens at {opens}, none of {site.total} stations expected ready"


def fleet_json(line: FleetLine) -> dict[str, object]:
    return {"offices": line.offices, "open": line.open, "can_enroll": line.can_enroll,
            "capacity_today": line.capacity_today}
