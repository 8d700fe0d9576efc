"""/metrics families of the parts and reliability side, rendered from snapshots only.

`pantau_site_availability_ratio{site,window}` comes from the last `Figures`
(computed every minute in a worker thread), absent for a window without
opening hours; `pantau_site_repair_open{site}` from the repair tracker's open
records (in memory), one row per registered site, 0 included;
`pantau_site_rollout_due_timestamp_seconds{site}` from the registry's
deadlines, only for sites with a planned station still planned.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

from collector.exposition_text import Family, escape_label, line
from collector.figures import WINDOWS, Figures

AVAILABILITY: Final = Family(
    "pantau_site_availability_ratio", "gauge",
    "Share of the site's opening hours its stations were ready (window 1d: today so far, "
    "7d/30d: the last whole local days).",
)
REPAIR_OPEN: Final = Family(
    "pantau_site_repair_open", "gauge", "Repair records of the site that are open.",
)
ROLLOUT_DUE: Final = Family(
    "pantau_site_rollout_due_timestamp_seconds", "gauge",
    "The earliest install_by deadline among the site's stations still planned.",
)


def render(figures: Figures | None, open_repairs: Mapping[str, int], sites: Iterable[str],
           rollout_due: Mapping[str, float]) -> bytes:
    out = [AVAILABILITY.header]
    if figures is not None:
        for site, found in sorted(figures.sites.items()):
            lab = f'site="{escape_label(site)}"'
            out.extend(line(AVAILABILITY.name, f'{lab},window="{w}"', found.windows[w])
                       for w in WINDOWS if w in found.windows)
    out.append(REPAIR_OPEN.header)
    for site in sorted({*sites, *open_repairs}):
        out.append(line(REPAIR_OPEN.name, f'site="{escape_label(site)}"',
                        open_repairs.get(site, 0)))
    out.append(ROLLOUT_DUE.header)
    out.extend(line(ROLLOUT_DUE.name, f'site="{escape_label(site)}"', due)
               for site, due in sorted(rollout_due.items()))
    return "".join(out).encode()
