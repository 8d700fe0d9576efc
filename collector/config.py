"""Collector configuration: TOML file + command-line flags → frozen CollectorConfig.

Every key has a default, so `pantau-collector run --broker mqtt://host:1883`
runs with no file at all; flags override the file. Refusals are `ConfigError`
(the shared config core's) naming the file (or the flag), the key and the
reason. The `[broker]` table is read by the shared parser, so both programs
accept exactly the same keys and URLs.

The `[http]` table (listen, HTTPS, basic auth) is parsed in collector/config_http.py.
Default HTTP port 9620: unassigned in Prometheus' default-port allocations
list, near the exporters' 91xx-97xx range. Listens on loopback unless told.
"""

from __future__ import annotations

import dataclasses
import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from collector.config_http import DEFAULT_HTTP_PORT, HttpConfig, parse_http
from collector.config_repairs import RepairsConfig, parse_repairs
from pantau.broker_config import BrokerConfig, parse_broker, topic_root
from pantau.config import FieldParser, Section, describe, ident, integer, path, read_toml
from pantau.wire import DEFAULT_TOPIC_ROOT

__all__ = ["DEFAULT_HTTP_PORT", "CliOverrides", "CollectorConfig", "HttpConfig", "RepairsConfig",
           "StateConfig", "load_collector_config"]

DEFAULT_CONFIG_PATH: Final = Path("/etc/pantau/collector.toml")


def default_data_dir(environ: Mapping[str, str] | None = None) -> Path:
    """systemd's StateDirectory, else /var/lib for root, else the user's XDG state dir."""
    env = os.environ if environ is None else environ
    if env.get("STATE_DIRECTORY"):
        return Path(env["STATE_DIRECTORY"].split(":")[0])
    if os.geteuid() == 0:
        return Path("/var/lib/pantau-collector")
    xdg = env.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(xdg) / "pantau-collector"


def default_client_id() -> str:
    """Fixed per machine, so the broker keeps our session across restarts, yet two
    replicas on two machines do not take over each other's session."""
    host = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname()) or "localhost"
    return f"pantau-collector-{host}"[:64]


@dataclass(frozen=True, slots=True)
class StateConfig:
    data_dir: Path = field(default_factory=default_data_dir)
    stale_factor: float = 3.0  # stale after stale_factor * the station's interval_s
    retention_days: float = 90.0
    # Rows (events, state changes) held in memory while the history database cannot
    # commit; beyond it new events wait at the agents and the oldest state changes go.
    max_pending_rows: int = 100_000


@dataclass(frozen=True, slots=True)
class CollectorConfig:
    source: str = "<defaults>"  # the file this came from, for messages
    broker: BrokerConfig = field(default_factory=BrokerConfig)
    http: HttpConfig = field(default_factory=HttpConfig)
    state: StateConfig = field(default_factory=StateConfig)
    repairs: RepairsConfig = field(default_factory=RepairsConfig)
    registry: Path | None = None  # None: no registry, every station shows as unregistered
    sites: tuple[str, ...] = ()  # empty: all sites; else only these (sharding)
    topic_root: str = DEFAULT_TOPIC_ROOT
    replica: str | None = None  # this replica's name (docs/replicas.md); None: a lone collector


@dataclass(frozen=True, slots=True)
class CliOverrides:
    broker: str | None = None
    listen: str | None = None
    registry: Path | None = None
    data_dir: Path | None = None


def _number(lo: float, hi: float) -> FieldParser:
    def parse(sec: Section, name: str) -> float:
        value = sec.data[name]
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if not ok or not lo < float(value) <= hi:  # type: ignore[arg-type]
            wanted = f"a number > {lo:g} and <= {hi:g}"
            raise sec.error(name, f"expected {wanted}, got {describe(value)}")
        return float(value)  # type: ignore[arg-type]

    return parse


def _sites(sec: Section, name: str) -> tuple[str, ...]:
    value = sec.data[name]
    if not isinstance(value, list):
        wanted = 'an array of site ids like ["medan-baru"]'
        raise sec.error(name, f"expected {wanted}, got {describe(value)}")
    return tuple(ident(Section({f"{name}[{i}]": v}, sec.file), f"{name}[{i}]")
                 for i, v in enumerate(value))


READER = "the collector"  # who must read the files a config names, for refusals


_TOP: Final[dict[str, FieldParser]] = {
    "registry": path, "sites": _sites, "topic_root": topic_root, "replica": ident,
    "broker": lambda s, n: None, "http": lambda s, n: None, "state": lambda s, n: None,
    "repairs": lambda s, n: None,
}
_STATE: Final[dict[str, FieldParser]] = {
    "data_dir": path,
    "stale_factor": _number(1.0, 1000.0),
    "retention_days": _number(0.0, 36500.0),
    "max_pending_rows": integer(1000, 10_000_000),
}


def load_collector_config(path: Path | None, overrides: CliOverrides) -> CollectorConfig:
    """Read `path` (None: /etc/pantau/collector.toml if it exists, else defaults), apply flags."""
    if path is None and DEFAULT_CONFIG_PATH.exists():
        path = DEFAULT_CONFIG_PATH
    data: dict[str, Any] = read_toml(path) if path is not None else {}
    top = Section(data, str(path or "<defaults>"), "", path.parent if path else Path("."))
    fields = top.fields(_TOP)
    broker = _broker(top, overrides.broker, fields.get("replica"))
    http = parse_http(_section(top, "http"), overrides.listen)
    state = StateConfig(**_table(top, "state", _STATE))
    repairs = parse_repairs(_section(top, "repairs"), [user for user, _ in http.users])
    if overrides.data_dir is not None:
        state = dataclasses.replace(state, data_dir=overrides.data_dir)
    root = fields.get("topic_root", DEFAULT_TOPIC_ROOT)
    return CollectorConfig(
        source=top.file, broker=dataclasses.replace(broker, topic_root=root), http=http,
        state=state, repairs=repairs, registry=overrides.registry or fields.get("registry"),
        sites=fields.get("sites", ()), topic_root=root, replica=fields.get("replica"),
    )


def _section(top: Section, name: str) -> Section:
    """The table `name`, or an empty one keyed the same so refusals still say `http.x`."""
    return top.child(name) if name in top.data else Section({}, top.file, name, top.base_dir)


def _table(top: Section, name: str, schema: Mapping[str, FieldParser]) -> dict[str, Any]:
    return top.child(name).fields(schema) if name in top.data else {}


def _broker(top: Section, url_flag: str | None, replica: str | None) -> BrokerConfig:
    table: dict[str, object] = dict(top.child("broker").data) if "broker" in top.data else {}
    if "topic_root" in table:
        raise top.error("broker.topic_root", "not a collector key; set the top-level topic_root")
    if url_flag is not None:
        parse_broker({"url": url_flag}, "command line", READER, "--broker")  # name the flag if bad
        table["url"] = url_flag
    broker = parse_broker(table, top.file, READER)
    if broker.client_id is None:
        client_id = default_client_id() if replica is None else replica_client_id(replica)
        broker = dataclasses.replace(broker, client_id=client_id)
    if replica is not None:
        _check_replica_account(top, broker, replica)
    return broker


def replica_client_id(replica: str) -> str:
    """A replica's broker account and client id: the shipped Mosquitto ACL names them."""
    return f"pantau-collector-{replica}"[:64]


def _check_replica_account(top: Section, broker: BrokerConfig, replica: str) -> None:
    # Mosquitto forces the client id to the username (use_username_as_clientid): two
    # replicas on one account take over each other's session, each kicking the other off.
    if broker.username is not None and broker.username != broker.client_id:
        raise top.error(
            "broker.username",
            f"replica {replica!r} must log in as its own broker account, named like its "
            f"client id {broker.client_id!r}, not {broker.username!r}: replicas sharing an "
            "account kick each other off the broker (docs/replicas.md)")
