"""What each site is missing or has broken: the list the people who order parts read.

Pure functions over the fleet's station and site views. Only *required*
components count (an optional part is not ordered), and only `missing`,
`failed` and `standin` (ok on a stand-in: enrolling, but the part is still
away); an `unknown` status means the probe could not look, not that the part
is gone. A station that is down keeps its last known parts, with its state
alongside, so the reader knows the information may be old. Each row says
which model to order and since when the part is away, from the repair record
when there is one (`OrderInfo`, looked up by the caller).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from collector.rfc3339 import utc_cell
from pantau.wire import Component

if TYPE_CHECKING:
    from collector.site_rollup import SiteView
    from collector.station import StationView

ORDERABLE_STATUSES: Final = ("missing", "failed", "standin")
CSV_COLUMNS: Final = (
    "site", "site_name", "region", "station", "station_state",
    "role", "status", "since", "since_ts", "detail",
    "model_to_order", "open_for_s", "ordered_at", "ordered_at_ts",
)
# A cell starting with one of these is run as a formula by spreadsheet programs;
# details come from the field, so neutralise them (OWASP "CSV injection").
_FORMULA_PREFIXES: Final = ("=", "+", "-", "@", "\t", "\r")




@dataclass(frozen=True, slots=True)
class OrderInfo:
    """The repair side of a part: which model to order, since when it is away, when ordered."""

    model_to_order: str = ""  # "080b:0002 Cross Match Fingerprint Scanner"; "" when unknown
    opened_at: float | None = None  # the repair record's; None: no record yet (the status since)
    ordered_at: float | None = None


NO_ORDER_INFO: Final = OrderInfo()
OrderLookup = Callable[["StationView", Component], OrderInfo]


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
    order: OrderInfo = NO_ORDER_INFO

    def open_for_s(self, at: float) -> float:
        """How long the part has been away: since the repair opened, else since its status."""
        start = self.order.opened_at if self.order.opened_at is not None else self.since
        return max(0.0, at - start)


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


def orderable_status(c: Component) -> str | None:
    """missing / failed / standin for a required part to order, else None."""
    if not c.required:
        return None
    if c.status == "ok":
        return "standin" if c.standin is True else None
    return c.status if c.status in ORDERABLE_STATUSES else None


def part_issues(stations: Iterable[StationView],
                order: OrderLookup | None = None) -> list[PartIssue]:
    """One row per required part missing, failed or on a stand-in, by site, station, role."""
    issues = [
        PartIssue(
            site=view.site, station=view.station, station_state=view.state, role=c.id,
            kind=c.kind, status=status, since=c.since, detail=c.detail,
            order=order(view, c) if order is not None else NO_ORDER_INFO,
        )
        for view in stations
        for c in view.components
        if (status := orderable_status(c)) is not None
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


def parts_csv(issues: Iterable[PartIssue], sites: Iterable[SiteView], at: float = 0.0) -> str:
    """The issues as CSV (header row first), with site name and region for filtering."""
    names = {s.site: (s.name, s.region) for s in sites}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for i in issues:
        name, region = names.get(i.site, (i.site, ""))
        ordered = i.order.ordered_at
        row = (i.site, name, region, i.station, i.station_state, i.role, i.status,
               utc_cell(i.since), f"{i.since:.3f}", i.detail, i.order.model_to_order,
               f"{i.open_for_s(at):.0f}", utc_cell(ordered) if ordered is not None else "",
               f"{ordered:.3f}" if ordered is not None else "")
        writer.writerow([_safe_cell(v) for v in row])
    return out.getvalue()


def _safe_cell(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA_PREFIXES) else value
