"""Grafana panels of the parts side: availability, open repairs (used by build_dashboards.py).

Metric names: README "Metrics reference"; how they are worked out: docs/parts.md.
"""

from __future__ import annotations

from typing import Any

from grafana_panels import BAD_ANY, GOOD_HIGH, bars, column, one, stat, table, target

SITE_LINK = "/d/pantau-site/pantau-site?var-site=${__value.raw}"


def link(title: str, url: str) -> list[dict[str, Any]]:
    return [{"title": title, "url": url}]


def fleet_upkeep(sel: str) -> list[dict[str, Any]]:
    """Availability and repairs (collector/figures.py, docs/parts.md), for the fleet board."""
    return [
        table("Availability by site", "Share of each site's opening hours its stations were "
              "ready (maintenance left out): window 1d = today so far, 7d / 30d = the last "
              "whole local days. Least available first. Also the collector's /reliability page.",
              [target(f"sort({one(f'pantau_site_availability_ratio{{{sel}}}')})", table=True)],
              {"Value": "availability"}, size=(10, 9),
              overrides=[column("availability", ("unit", "percentunit")),
                         column("site", ("links", link("Site dashboard", SITE_LINK)))]),
        bars("Open repairs by site", "Repair records still open (a required part missing, "
             "failed or on a stand-in for more than [repairs] min_open_s): the 30 sites with "
             "the most. Details: /api/v1/repairs?state=open on the collector.",
             f"sort_desc(topk(30, {one(f'pantau_site_repair_open{{{sel}}}')}))", "{{site}}",
             thresholds_=BAD_ANY, size=(10, 9)),
        stat("Open repairs", "Repair records open across the selected sites.",
             f"sum({one(f'pantau_site_repair_open{{{sel}}}')}) or vector(0)", thresholds_=BAD_ANY,
             size=(4, 9)),
    ]


def fleet_rollout(sel: str) -> list[dict[str, Any]]:
    """Rollout deadlines (registry install_by), for the fleet board."""
    return [
        table("Rollout deadlines", "Per site, the earliest install_by deadline among its "
              "stations still planned (end of that day in the site's time zone); past ones "
              "raise PantauRolloutBehind.",
              [target(f"sort({one(f'pantau_site_rollout_due_timestamp_seconds{{{sel}}}')}) * 1000",
                      table=True)],
              {"Value": "install by"}, size=(16, 7),
              overrides=[column("install by", ("unit", "dateTimeAsIso")),
                         column("site", ("links", link("Site dashboard", SITE_LINK)))]),
        stat("Sites behind their rollout", "Sites whose deadline has passed with a station "
             "still planned.",
             f"count({one(f'pantau_site_rollout_due_timestamp_seconds{{{sel}}}')} < time())"
             " or vector(0)",
             thresholds_=BAD_ANY, size=(8, 7)),
    ]


def site_upkeep(s: str) -> list[dict[str, Any]]:
    """The site board's row: its availability windows and open repairs."""
    return [
        stat("Availability", "Share of opening hours the site's stations were ready: 1d = "
             "today so far, 7d / 30d = the last whole local days (shown once the history "
             "holds them).", one(f"pantau_site_availability_ratio{{{s}}}"), legend="{{window}}",
             unit="percentunit", thresholds_=GOOD_HIGH, size=(14, 4)),
        stat("Open repairs", "Repair records of the site still open (missing, failed or on "
             "a stand-in).", one(f"pantau_site_repair_open{{{s}}}"), thresholds_=BAD_ANY,
             size=(5, 4)),
        stat("Install by", "The earliest install_by deadline among the site's stations still "
             "planned (none: nothing planned under a deadline).",
             one(f"pantau_site_rollout_due_timestamp_seconds{{{s}}}") + " * 1000",
             unit="dateTimeAsIso",
             size=(5, 4)),
    ]
