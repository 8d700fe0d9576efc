"""Grafana panel and variable builders for the Pantau dashboards (used by build_dashboards.py).

Why generate: three dashboards share dozens of panels with the same datasource,
value mappings and layout rules; writing that JSON by hand drifts. The JSON
files stay the deliverable (Grafana provisions them as they are) and
tests/deploy/test_grafana_dashboards.py checks they match this generator.
"""

from __future__ import annotations

from typing import Any

# The uid given to the Prometheus datasource in provisioning/datasources/pantau.yml:
# the default of each dashboard's `datasource` variable. Panels and variables name
# the variable, not the uid, so a site whose Prometheus datasource has another uid
# (or several Prometheus servers) picks it in the dashboard instead of editing JSON.
DATASOURCE_UID = "pantau-prometheus"
DS = {"type": "prometheus", "uid": "${datasource}"}
DATASOURCE_VARIABLE: dict[str, Any] = {
    "name": "datasource", "label": "Data source", "type": "datasource", "query": "prometheus",
    "current": {"selected": True, "text": "Pantau Prometheus", "value": DATASOURCE_UID},
    "hide": 0, "includeAll": False, "multi": False, "options": [], "refresh": 1, "regex": "",
}

Panel = dict[str, Any]

# Enum-style metrics as one number per series, so a table cell or a state
# timeline can colour it. Order = severity, worst last.
STATION_STATES = (
    ("online", "green"), ("planned", "blue"), ("offline", "yellow"),
    ("stale", "orange"), ("never_seen", "purple"), ("lost", "red"),
)
COMPONENT_STATUSES = (("ok", "green"), ("unknown", "yellow"), ("failed", "orange"),
                      ("missing", "red"))
CHECK_UP = (("failed", "red"), ("ok", "green"))  # pantau_check_up: 0 / 1


def one(expr: str) -> str:
    """Each series once however many collector replicas export it (docs/replicas.md)."""
    return f"max without (instance) ({expr})"


def enum_code(metric: str, selector: str, label: str, by: str,
              values: tuple[tuple[str, str], ...]) -> str:
    """`max by (by)` of the index of the one `label` value whose series is 1."""
    parts = [f'({metric}{{{selector},{label}="{v}"}} == 1) * {i}'
             for i, (v, _) in enumerate(values)]
    joined = "\n  or ".join(parts)
    return f"max by ({by}) (\n  {joined}\n)"


def mappings(values: tuple[tuple[str, str], ...]) -> list[dict[str, Any]]:
    options = {str(i): {"text": text.replace("_", " "), "color": color, "index": i}
               for i, (text, color) in enumerate(values)}
    return [{"type": "value", "options": options}]


def target(expr: str, ref: str = "A", legend: str = "", table: bool = False,
           instant: bool = False) -> dict[str, Any]:
    return {
        "refId": ref, "datasource": DS, "expr": expr, "legendFormat": legend or "__auto",
        "format": "table" if table else "time_series",
        "instant": instant or table, "range": not (instant or table),
    }


def thresholds(*steps: tuple[float | None, str]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"value": v, "color": c} for v, c in steps]}


GOOD_HIGH = thresholds((None, "red"), (0.5, "orange"), (1, "green"))
BAD_ANY = thresholds((None, "green"), (1, "red"))
NEUTRAL = thresholds((None, "text"))


def panel(kind: str, title: str, description: str, targets: list[dict[str, Any]],
          *, size: tuple[int, int] = (6, 4), unit: str = "", thresholds_: dict[str, Any]
          | None = None, options: dict[str, Any] | None = None,
          value_mappings: list[dict[str, Any]] | None = None,
          overrides: list[dict[str, Any]] | None = None, min: float | None = None,
          max: float | None = None, **extra: Any) -> Panel:
    defaults: dict[str, Any] = {"thresholds": thresholds_ or NEUTRAL,
                                "color": {"mode": "thresholds"}, "mappings": value_mappings or []}
    limits = {"unit": unit or None, "min": min, "max": max}
    defaults.update({k: v for k, v in limits.items() if v is not None})
    return {
        "type": kind, "title": title, "description": description, "datasource": DS,
        "gridPos": {"w": size[0], "h": size[1]}, "targets": targets,
        "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
        "options": options or {}, **extra,
    }


def stat(title: str, description: str, expr: str, *, legend: str = "",
         text_mode: str = "auto", **kw: Any) -> Panel:
    options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
               "colorMode": "background", "graphMode": "none", "textMode": text_mode}
    return panel("stat", title, description, [target(expr, legend=legend, instant=True)],
                 options=options, **kw)


def bars(title: str, description: str, expr: str, legend: str, **kw: Any) -> Panel:
    options = {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
               "orientation": "horizontal", "displayMode": "gradient", "showUnfilled": True}
    kw.setdefault("size", (8, 9))
    return panel("bargauge", title, description, [target(expr, legend=legend, instant=True)],
                 options=options, **kw)


def table(title: str, description: str, targets: list[dict[str, Any]],
          columns: dict[str, str], **kw: Any) -> Panel:
    """A table of instant queries merged on their shared labels; `columns` renames fields."""
    kw.setdefault("size", (12, 9))
    hidden = {"Time": True, "__name__": True, "job": True, "instance": True}
    return panel("table", title, description, targets, options={"showHeader": True},
                 transformations=[{"id": "merge", "options": {}},
                                  {"id": "organize", "options": {"excludeByName": hidden,
                                                                 "renameByName": columns}}],
                 **kw)


def column(name: str, *properties: tuple[str, Any]) -> dict[str, Any]:
    return {"matcher": {"id": "byName", "options": name},
            "properties": [{"id": key, "value": value} for key, value in properties]}


def coloured_cells(name: str, values: tuple[tuple[str, str], ...]) -> dict[str, Any]:
    return column(name, ("mappings", mappings(values)),
                  ("custom.cellOptions", {"type": "color-background"}))


def timeseries(title: str, description: str, targets: list[dict[str, Any]], **kw: Any) -> Panel:
    kw.setdefault("size", (12, 8))
    options = {"legend": {"displayMode": "list", "placement": "bottom", "showLegend": True},
               "tooltip": {"mode": "multi", "sort": "desc"}}
    return panel("timeseries", title, description, targets, options=options, **kw)


def timeline(title: str, description: str, expr: str, legend: str,
             values: tuple[tuple[str, str], ...], **kw: Any) -> Panel:
    kw.setdefault("size", (24, 8))
    options = {"mergeValues": True, "showValue": "never", "alignValue": "left",
               "rowHeight": 0.85, "legend": {"displayMode": "list", "placement": "bottom",
                                             "showLegend": True}}
    return panel("state-timeline", title, description, [target(expr, legend=legend)],
                 options=options, value_mappings=mappings(values),
                 **kw)


def query_variable(name: str, label: str, query: str, *, multi: bool = False) -> dict[str, Any]:
    var: dict[str, Any] = {
        "name": name, "label": label, "type": "query", "datasource": DS,
        "query": {"qryType": 1, "query": query, "refId": f"{name}-query"},
        "definition": query, "refresh": 2, "sort": 1, "multi": multi,
        "includeAll": multi, "current": {}, "options": [],
    }
    if multi:
        var["allValue"] = ".*"  # All also matches alerts without a site label (collector alerts)
    return var


def lay_out(rows: list[list[Panel]]) -> list[Panel]:
    """Place each row's panels left to right; number them (ids unique per dashboard)."""
    placed, y, next_id = [], 0, 1
    for row in rows:
        x = 0
        for p in row:
            p["gridPos"] = {"x": x, "y": y, **p["gridPos"]}
            p["id"] = next_id
            next_id += 1
            x += p["gridPos"]["w"]
            placed.append(p)
        y += max(p["gridPos"]["h"] for p in row)
    return placed


def dashboard(uid: str, title: str, description: str, variables: list[dict[str, Any]],
              rows: list[list[Panel]]) -> dict[str, Any]:
    return {
        "uid": uid, "title": title, "description": description, "tags": ["pantau"],
        "editable": True, "graphTooltip": 1, "schemaVersion": 39, "version": 1,
        "timezone": "browser", "refresh": "30s", "time": {"from": "now-6h", "to": "now"},
        "annotations": {"list": []},
        "links": [{"type": "dashboards", "tags": ["pantau"], "asDropdown": False,
                   "includeVars": True, "keepTime": True, "title": "Pantau"}],
        "templating": {"list": [DATASOURCE_VARIABLE, *variables]},
        "panels": lay_out(rows),
    }
