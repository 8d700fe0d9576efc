#!/usr/bin/env python3
"""Write the Pantau Grafana dashboards (dashboards/*.json) from the definitions below.

    python3 deploy/grafana/build_dashboards.py      # after editing a panel here

Metric names and labels: DESIGN.md "Metrics"; recording rules: deploy/prometheus/rules.yml.
Every query keeps cardinality bounded: fleet panels aggregate by site, state or
component (and cap long lists with topk/bottomk); per-station series appear only
on the site and station dashboards, filtered by $site / $station.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

# The sibling modules, found through the line above.
from grafana_panels import (
    BAD_ANY,
    CHECK_UP,
    COMPONENT_STATUSES,
    GOOD_HIGH,
    STATION_STATES,
    bars,
    coloured_cells,
    column,
    dashboard,
    enum_code,
    mappings,
    one,
    query_variable,
    stat,
    table,
    target,
    thresholds,
    timeline,
    timeseries,
)
from grafana_upkeep import fleet_rollout, fleet_upkeep, site_upkeep

OUT = Path(__file__).resolve().parent / "dashboards"
SITE_LIST = "label_values(pantau_site_stations, site)"
STATION_LINK = ("/d/pantau-station/pantau-station"
                "?var-site=${__data.fields.site}&var-station=${__value.raw}")
SITE_LINK = "/d/pantau-site/pantau-site?var-site=${__value.raw}"
FS = 'site=~"$site"'  # fleet filter (multi-value, All = .*)


def link(title: str, url: str) -> list[dict[str, Any]]:
    return [{"title": title, "url": url}]


def fleet_overview() -> dict[str, Any]:
    variables = [query_variable("site", "Site", SITE_LIST, multi=True)]
    top = [
        stat("Stations installed", "Registered stations that are not planned (active kit).",
             f"sum(site:pantau_stations_active:count{{{FS}}})", size=(4, 4)),
        stat("Ready to enroll", "Online with every required part ok.",
             f"sum(site:pantau_stations_ready:count{{{FS}}})", size=(4, 4)),
        stat("Stations down", "Lost (Last Will) or stale (heartbeats stopped).",
             f"sum(site:pantau_stations_down:count{{{FS}}}) or vector(0)", size=(4, 4),
             thresholds_=BAD_ANY),
        stat("Sites that cannot enroll", "Sites with installed kit but no ready station.",
             f"count(site:pantau_stations_ready:ratio{{{FS}}} == 0) or vector(0)", size=(4, 4),
             thresholds_=BAD_ANY),
        stat("Alerts paging", "Alerts with severity=page firing now.",
             f'count(ALERTS{{alertstate="firing",severity="page",{FS}}}) or vector(0)',
             size=(4, 4), thresholds_=BAD_ANY),
        stat("Rollout", "Installed share of all registered stations (planned ones still to go).",
             f'sum(site_state:pantau_stations:count{{state!="planned",{FS}}})'
             f" / sum(site_state:pantau_stations:count{{{FS}}})",
             size=(4, 4), unit="percentunit", thresholds_=GOOD_HIGH),
    ]
    readiness = [
        bars("Least ready sites", "Share of each site's installed kit that can enroll "
             "right now; the 30 worst sites.",
             f"sort(bottomk(30, site:pantau_stations_ready:ratio{{{FS}}}))", "{{site}}",
             unit="percentunit", thresholds_=GOOD_HIGH, min=0, max=1,
             links=link("Site dashboard", "/d/pantau-site/pantau-site?${site:queryparam}")),
        bars("Stations by state", "Every registered, not retired station by state.",
             f"sort_desc(sum by (state) (site_state:pantau_stations:count{{{FS}}}))", "{{state}}"),
        bars("Parts missing or failed, by role", "Required parts not ok across the selected "
             "sites: what to order.",
             f"sort_desc(sum by (component) "
             f"(site_component:pantau_components_not_ok:count{{{FS}}}))",
             "{{component}}", thresholds_=BAD_ANY),
    ]
    lists = [
        table("Alerts firing", "Alerts firing now by name and site (the watchdog left out).",
              [target("sort_desc(count by (alertname, severity, site) "
                      f'(ALERTS{{alertstate="firing",alertname!="PantauWatchdog",{FS}}}))',
                      table=True)],
              {"Value": "alerts"}, size=(8, 9)),
        table("What each site lacks", "Required parts missing or failed per site and role "
              "(also /api/v1/parts?format=csv on the collector).",
              [target("topk(100, sort_desc(site_component:pantau_components_not_ok:count"
                      f"{{{FS}}}))", table=True)],
              {"Value": "stations lacking it"}, size=(8, 9),
              overrides=[column("site", ("links", link("Site dashboard", SITE_LINK)))]),
        table("Unexpected USB devices", "Stations with USB devices their inventory does not "
              "expect (flash drives on a biometric station are a security concern).",
              [target(f"topk(50, {one(f'pantau_station_unexpected_devices{{{FS}}}')} > 0)",
                     table=True)],
              {"Value": "devices"}, size=(8, 9),
              overrides=[column("station", ("links", link("Station dashboard", STATION_LINK)))]),
    ]
    trends = [
        bars("Rollout by site", "Installed share of registered stations, for sites that "
             "still have planned stations.",
             "sort(bottomk(30, (sum by (site) "
             f'(site_state:pantau_stations:count{{state!="planned",{FS}}})'
             f" or sum by (site) (site_state:pantau_stations:count{{{FS}}}) * 0)"
             f" / sum by (site) (site_state:pantau_stations:count{{{FS}}})"
             f' and on (site) site_state:pantau_stations:count{{state="planned",{FS}}}))',
             "{{site}}", unit="percentunit", thresholds_=GOOD_HIGH, min=0, max=1),
        timeseries("Stations by state over time", "Counts per state across the selected sites.",
                   [target(f"sum by (state) (site_state:pantau_stations:count{{{FS}}})",
                           legend="{{state}}")], size=(8, 9)),
        timeseries("Collector", "Heartbeats per second received, messages rejected (by reason) "
                   "and broker connection (1 = connected), one line per collector: each "
                   "replica receives every message.",
                   [target('sum by (instance) (rate(pantau_collector_messages_total'
                           '{kind="heartbeat"}[$__rate_interval]))', "A",
                           "{{instance}} heartbeats/s"),
                    target("sum by (instance, reason) (rate(pantau_collector_rejected_messages_"
                           "total[$__rate_interval]))", "B", "{{instance}} rejected {{reason}}/s"),
                    target("min(pantau_collector_broker_connected)", "C", "broker connected")],
                   size=(8, 9)),
    ]
    return dashboard("pantau-fleet", "Pantau — fleet overview",
                     "Enrollment stations of the whole fleet: readiness, parts, alerts, rollout.",
                     variables, [top, readiness, lists, fleet_upkeep(FS), fleet_rollout(FS),
                                trends])


def site_dashboard() -> dict[str, Any]:
    variables = [query_variable("site", "Site", SITE_LIST)]
    s = 'site="$site"'
    top = [
        stat("Ready share", "Installed stations of this site that can enroll now.",
             f"site:pantau_stations_ready:ratio{{{s}}}", unit="percentunit",
             thresholds_=GOOD_HIGH, size=(5, 4)),
        stat("Online", "", f"site:pantau_stations_online:count{{{s}}} or vector(0)", size=(5, 4)),
        stat("Down", "Lost or stale.", f"site:pantau_stations_down:count{{{s}}} or vector(0)",
             thresholds_=BAD_ANY, size=(5, 4)),
        stat("Required parts not ok", "Required parts missing or failed.",
             f"sum(site_component:pantau_components_not_ok:count{{{s}}}) or vector(0)",
             thresholds_=BAD_ANY, size=(5, 4)),
        stat("Planned", "Registered stations not installed yet.",
             f'site_state:pantau_stations:count{{{s},state="planned"}} or vector(0)', size=(4, 4)),
    ]
    upkeep = site_upkeep(s)
    stations = table(
        "Stations", "One row per station: state, required parts not ok, unexpected USB "
        "devices, seconds since the last heartbeat.",
        [target(enum_code("pantau_station_state", s, "state", "site, station", STATION_STATES),
                "A", table=True),
         target(f"max by (site, station) (sum by (instance, site, station) ("
                f"(1 - pantau_component_up{{{s}}}) "
                "* on (instance, site, station, component) pantau_component_required))", "B",
                table=True),
         target(f"max by (site, station) (pantau_station_unexpected_devices{{{s}}})", "C",
                table=True),
         target(f"time() - max by (site, station) "
                f"(pantau_station_last_heartbeat_timestamp_seconds{{{s}}})", "D", table=True)],
        {"Value #A": "state", "Value #B": "parts not ok", "Value #C": "unexpected devices",
         "Value #D": "last heartbeat"},
        size=(14, 10),
        overrides=[coloured_cells("state", STATION_STATES),
                   column("last heartbeat", ("unit", "s")),
                   column("station", ("links", link("Station dashboard", STATION_LINK)))])
    parts = table(
        "Parts not ok", "Parts missing, failed or unknown, and since when.",
        [target(enum_code("pantau_component_status", s, "status", "site, station, component",
                          COMPONENT_STATUSES) + " > 0", "A", table=True),
         target("max by (site, station, component) ("
                f"pantau_component_status_since_timestamp_seconds{{{s}}}"
                " and on (site, station, component) (pantau_component_up == 0)) * 1000",
                "B", table=True)],
        {"Value #A": "status", "Value #B": "since"}, size=(10, 10),
        overrides=[coloured_cells("status", COMPONENT_STATUSES),
                   column("since", ("unit", "dateTimeAsIso"))])
    checks = table(
        "Network checks", "Each station's checks (tcp/http) and their last latency.",
        [target(f"max by (station, check) (pantau_check_up{{{s}}})", "A", table=True),
         target(f"max by (station, check) (pantau_check_latency_seconds{{{s}}})", "B",
                table=True)],
        {"Value #A": "result", "Value #B": "latency"}, size=(12, 8),
        overrides=[coloured_cells("result", CHECK_UP), column("latency", ("unit", "s"))])
    alerts = table(
        "Alerts firing at this site", "",
        [target("count by (alertname, severity, station, component) "
                f'(ALERTS{{alertstate="firing",{s}}})', table=True)],
        {"Value": "alerts"}, size=(12, 8))
    history = timeline(
        "Station states over time", "Status changes of every station of the site.",
        enum_code("pantau_station_state", s, "state", "station", STATION_STATES),
        "{{station}}", STATION_STATES)
    return dashboard("pantau-site", "Pantau — site",
                     "One district office: its stations, missing parts, checks and alerts.",
                     variables, [top, upkeep, [stations, parts], [checks, alerts], [history]])


def station_dashboard() -> dict[str, Any]:
    variables = [
        query_variable("site", "Site", SITE_LIST),
        query_variable("station", "Station",
                       'label_values(pantau_station_info{site="$site"}, station)'),
    ]
    st = 'station="$station"'
    top = [
        stat("State", "", enum_code("pantau_station_state", st, "state", "station",
                                    STATION_STATES),
             value_mappings=mappings(STATION_STATES), size=(4, 4)),
        stat("Last heartbeat", "Seconds since the agent's last heartbeat (agent clock).",
             f"time() - {one(f'pantau_station_last_heartbeat_timestamp_seconds{{{st}}}')}",
             unit="s", size=(4, 4)),
        stat("Unexpected USB devices", "", one(f"pantau_station_unexpected_devices{{{st}}}"),
             thresholds_=BAD_ANY, size=(4, 4)),
        stat("Host up for", "", f"time() - {one(f'pantau_host_boot_time_seconds{{{st}}}')}",
             unit="s", size=(4, 4)),
        stat("Agent", "Agent version and hostname.",
             one(f"pantau_station_info{{{st}}}"), size=(8, 4),
             text_mode="name", legend="{{agent_version}} on {{hostname}} ({{profile}})"),
    ]
    components = table(
        "Components", "Each expected part: status, since when (the status's start), "
        "whether it is required.",
        [target(enum_code("pantau_component_status", st, "status", "component",
                          COMPONENT_STATUSES), "A", table=True),
         target(f"max by (component) (pantau_component_status_since_timestamp_seconds{{{st}}})"
                " * 1000", "B", table=True),
         target(f"max by (component) (pantau_component_required{{{st}}})", "C", table=True)],
        {"Value #A": "status", "Value #B": "since", "Value #C": "required"}, size=(12, 9),
        overrides=[coloured_cells("status", COMPONENT_STATUSES),
                   column("since", ("unit", "dateTimeAsIso")),
                   column("required", ("mappings", mappings((("no", "text"),
                                                              ("yes", "text")))))])
    events = timeline(
        "Component status changes", "Each part's status over time (the event history "
        "itself is on the collector's page /stations/<id>).",
        enum_code("pantau_component_status", st, "status", "component", COMPONENT_STATUSES),
        "{{component}}", COMPONENT_STATUSES, size=(12, 9))
    ratio = {"unit": "percentunit", "min": 0, "max": 1}
    host = [
        timeseries("CPU and memory", "", [
            target(one(f"pantau_host_cpu_ratio{{{st}}}"), "A", "cpu"),
            target(one(f"pantau_host_memory_used_ratio{{{st}}}"), "B", "memory")], size=(8, 8),
            **ratio),
        timeseries("Disks used", "", [target(one(f"pantau_host_disk_used_ratio{{{st}}}"), "A",
                                             "{{mount}}")], size=(8, 8),
                   thresholds_=thresholds((None, "green"), (0.9, "red")), **ratio),
        timeseries("Disk free", "", [target(one(f"pantau_host_disk_free_bytes{{{st}}}"), "A",
                                            "{{mount}}")], size=(8, 8), unit="bytes"),
    ]
    more = [
        timeseries("Temperature", "Hottest sensor of the station's PC.",
                   [target(one(f"pantau_host_temperature_celsius{{{st}}}"), "A", "°C")],
                   size=(8, 8), unit="celsius"),
        timeseries("Clock offset", "Station clock minus collector clock, from heartbeat "
                   "receipt times.", [target(one(f"pantau_host_clock_offset_seconds{{{st}}}"), "A",
                                             "offset")], size=(8, 8), unit="s"),
        timeseries("Network check latency", "", [target(
            one(f"pantau_check_latency_seconds{{{st}}}"), "A", "{{check}}")], size=(8, 8),
            unit="s"),
    ]
    checks = timeline("Network checks over time", "", f"max by (check) (pantau_check_up{{{st}}})",
                      "{{check}}", CHECK_UP, size=(12, 7))
    alerts = table("Alerts firing for this station", "",
                   [target("count by (alertname, severity, component) "
                           f'(ALERTS{{alertstate="firing",{st}}})', table=True)],
                   {"Value": "alerts"}, size=(12, 7))
    state = timeline("Station state over time", "",
                     enum_code("pantau_station_state", st, "state", "station", STATION_STATES),
                     "state", STATION_STATES, size=(24, 5))
    return dashboard("pantau-station", "Pantau — station",
                     "One enrollment station: its parts with since-when, host health, checks.",
                     variables, [top, [components, events], host, more, [checks, alerts],
                                 [state]])


DASHBOARDS = {
    "pantau-fleet.json": fleet_overview,
    "pantau-site.json": site_dashboard,
    "pantau-station.json": station_dashboard,
}


def render(build: Any) -> str:
    return json.dumps(build(), indent=2, ensure_ascii=False) + "\n"


def main() -> None:
    argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                            formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    OUT.mkdir(exist_ok=True)
    for name, build in DASHBOARDS.items():
        (OUT / name).write_text(render(build), encoding="utf-8")
        print(f"wrote {OUT / name}")


if __name__ == "__main__":
    main()
