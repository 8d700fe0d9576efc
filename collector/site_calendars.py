"""Each registered site's calendar for the reliability figures (collector.open_hours).

Until the registry carries opening hours, every site is open all day, its
local days counted in the default zone (WIB).
"""

from __future__ import annotations

from collector.open_hours import SiteCalendar
from collector.registry import Registry


def site_calendars(registry: Registry) -> dict[str, SiteCalendar]:
    return {site: SiteCalendar() for site in registry.sites}
