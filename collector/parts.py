"""What each site is missing or has broken: the list the people who order parts read.

Pure functions over the fleet's station and site views. Only *required*
components count (an optional part is not ordered), and only `missing` and
`failed` (an `unknown` status means the probe could not look, not that the
part is gone). A station that is down keeps its last known parts, with its
state alongside, so the reader knows the information may be old.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Final

from pantau.wire import Component

if TYPE_CHECKING:
    from collector.site_rollup import SiteView
    from collector.station import StationView

ORDERABLE_STATUSES: Final = ("missing", "failed")
CSV_COLUMNS: Final = (
    "site", "site_name", "region", "station", "station_state",
    "role", "status", "since", "since_ts", "detail",
)
# A cell starting with one of these is run as a formula by spreadsheet programs;
# details come from the field, so neutralise them (OWASP "CSV injection").
_FORMULA_PREFIXES: Final = ("=", "+", "-", "@", "\t", "\r")




@dataclass(frozen=True, slots=True)
class PartIssue:
    site: str
    station: str
    station_state: str
    role: str
    kind: str
    status: str
    since: float
    detail: str


@dataclass(slots=True)
class SiteParts:
    """Counts for one site: role -> status -> number of parts to replace."""

    site: str
    name: str
    region: str
    roles: dict[str, dict[str, int]] = field(default_factory=dict)
    total: int = 0


def station_problems(components: Iterable[Component]) -> list[Component]:
    """Required components that are not ok (including `unknown`), for at-a-glance views."""
    return [c for c in components if c.required and c.status != "ok"]


def part_issues(stations: Iterable[StationView]) -> list[PartIssue]:
    """One row per required part missing or failed, sorted by site, station, role."""
    issues = [
        PartIssue(
            site=view.site, station=view.station, station_state=view.state, role=c.id,
            kind=c.kind, status=c.status, since=c.since, detail=c.detail,
        )
        for view in stations
        for c in view.components
        if c.required and c.status in ORDERABLE_STATUSES
    ]
    issues.sort(key=lambda i: (i.site, i.station, i.role))
    return issues


def site_rollup(issues: Iterable[PartIssue], sites: Iterable[SiteView]) -> list[SiteParts]:
    """Per-site counts by role and status; sites without issues are listed with zero."""
    rollup = {s.site: SiteParts(s.site, s.name, s.region) for s in sites}
    for issue in issues:
        entry = rollup.setdefault(issue.site, SiteParts(issue.site, issue.site, ""))
        by_status = entry.roles.setdefault(issue.role, dict.fromkeys(ORDERABLE_STATUSES, 0))
        by_status[issue.status] += 1
        entry.total += 1
    # Named regions first; unregistered sites (no region) last.
    return sorted(rollup.values(), key=lambda s: (not s.region, s.region, s.site))


def parts_csv(issues: Iterable[PartIssue], sites: Iterable[SiteView]) -> str:
    """The issues as CSV (header row first), with site name and region for filtering."""
    names = {s.site: (s.name, s.region) for s in sites}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for i in issues:
        name, region = names.get(i.site, (i.site, ""))
        since_iso = datetime.fromtimestamp(i.since, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        row = (i.site, name, region, i.station, i.station_state, i.role, i.status,
               since_iso, f"{i.since:.3f}", i.detail)
        writer.writerow([_safe_cell(v) for v in row])
    return out.getvalue()


def _safe_cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_PREFIXES) else value
