"""Pure core of the agent loop: probe readings → components, events, heartbeats.

No I/O and no clocks of its own: the service passes `now` in, so tests drive it
with plain numbers. What lives here is the part that must be exactly right —
when a status began (`since`), what counts as a transition, how events and
heartbeats are numbered within one boot.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TypeVar

import msgspec

from agent.config import AgentConfig
from agent.journal_meta import QueueHealth
from agent.probes.base import ComponentReading, ProbeResult
from pantau.wire import (
    MAX_CHECKS,
    MAX_COMPONENTS,
    MAX_UNEXPECTED,
    PROTOCOL_VERSION,
    AgentInfo,
    Check,
    Component,
    ComponentStatus,
    Event,
    Heartbeat,
    Host,
    UnexpectedDevice,
)

MAX_DETAIL = 1024  # protocol.Detail
log = logging.getLogger(__name__)
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class ComponentTransition:
    component: str
    from_: ComponentStatus
    to: ComponentStatus
    detail: str


@dataclass(frozen=True, slots=True)
class Observation:
    """One poll, digested: what the heartbeat shows and what changed since the last poll."""

    components: tuple[Component, ...]
    checks: tuple[Check, ...]
    unexpected: tuple[UnexpectedDevice, ...]
    events: tuple[Event, ...]
    changed: bool  # deserves an immediate heartbeat


def clip(text: str, limit: int = MAX_DETAIL) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _serial(component: Component | ComponentReading) -> str | None:
    return component.device.serial if component.device is not None else None


def _serial_swap(last_serial: str | None, reading: ComponentReading) -> str | None:
    """Detail when the part now ok is another unit than the last one seen ok.

    `last_serial` survives a missing spell: swapping a scanner means unplugging
    the old one and plugging the new one, so the swap shows on missing → ok.
    """
    new = _serial(reading)
    if reading.status != "ok" or last_serial is None or new is None or last_serial == new:
        return None
    return f"serial changed from {last_serial or '(none)'} to {new or '(none)'}"


def to_component(reading: ComponentReading, since: float) -> Component:
    """The wire form; the optional fields stay UNSET (left out) unless they say something."""
    unset = msgspec.UNSET
    return Component(
        id=reading.id, kind=reading.kind, required=reading.required, status=reading.status,
        since=since, detail=clip(reading.detail), device=reading.device,
        standin=True if reading.standin else unset,
        expected=list(reading.expected) if reading.expected else unset,
        missing_units=reading.missing_units or unset,
    )


def advance(
    prev: Component | None, reading: ComponentReading, now: float, last_serial: str | None = None
) -> tuple[Component, ComponentTransition | None]:
    """The component after this reading, and the transition it makes (if any).

    `last_serial` is the serial last seen ok in this role, kept in the journal
    across restarts: on the first sight after a start, another unit in its
    place is a swap (ok → ok), though the start itself is a state, not a change.
    """
    since = now if prev is None or prev.status != reading.status else prev.since
    component = to_component(reading, since)
    swap = _serial_swap(last_serial, reading)
    if prev is None:
        return component, None if swap is None else ComponentTransition(
            reading.id, "ok", "ok", clip(swap))
    if prev.status != reading.status:
        detail = clip(swap) if swap and not component.detail else component.detail
        return component, ComponentTransition(reading.id, prev.status, reading.status, detail)
    if swap is not None:
        return component, ComponentTransition(reading.id, "ok", "ok", swap)
    return component, None


class ComponentTracker:
    """Remembers the last component states so `since` survives across polls,
    and the serial last seen ok per role so a swapped unit is reported.

    `last_serials` are those of the previous run (from the journal); the ones
    that changed since the last `take_serial_changes()` are for the journal.
    """

    def __init__(self, last_serials: Mapping[str, str] | None = None) -> None:
        self._last: dict[str, Component] = {}
        self._serials: dict[str, str] = dict(last_serials or {})
        self._serial_changes: dict[str, str] = {}

    def observe(
        self, readings: Iterable[ComponentReading], now: float
    ) -> tuple[tuple[Component, ...], tuple[ComponentTransition, ...]]:
        current: dict[str, Component] = {}
        transitions: list[ComponentTransition] = []
        for reading in readings:
            component, transition = advance(
                self._last.get(reading.id), reading, now, self._serials.get(reading.id))
            current[reading.id] = component
            if transition is not None:
                transitions.append(transition)
            serial = _serial(reading)
            if reading.status == "ok" and serial is not None and \
                    self._serials.get(reading.id) != serial:
                self._serials[reading.id] = self._serial_changes[reading.id] = serial
        self._last = current
        return tuple(current.values()), tuple(transitions)

    def take_serial_changes(self) -> dict[str, str]:
        """Role → serial newly seen ok since the last call (usually empty)."""
        changes, self._serial_changes = self._serial_changes, {}
        return changes


class EventNumberer:
    """Turns transitions into protocol events numbered 1, 2, 3 … within one boot."""

    def __init__(self, site: str, station: str, boot_id: str, first_seq: int = 1) -> None:
        self._site, self._station, self._boot_id = site, station, boot_id
        self._next = first_seq

    def make(self, transition: ComponentTransition, ts: float) -> Event:
        event = Event(
            v=PROTOCOL_VERSION, site=self._site, station=self._station,
            boot_id=self._boot_id, seq=self._next, ts=ts, component=transition.component,
            from_=transition.from_, to=transition.to, detail=clip(transition.detail),
        )
        self._next += 1
        return event


class ChangeWatch:
    """True when a value differs from the previous one; the first value is not a change."""

    def __init__(self) -> None:
        self._last: object = _UNSET

    def changed(self, value: object) -> bool:
        prev, self._last = self._last, value
        return prev is not _UNSET and prev != value


_UNSET = object()


def _unexpected_key(devices: Sequence[UnexpectedDevice]) -> tuple[tuple[str, ...], ...]:
    return tuple(sorted((d.vid, d.pid, d.port, d.serial) for d in devices))


def _check_key(checks: Sequence[Check]) -> tuple[tuple[str, str], ...]:
    return tuple((c.id, c.status) for c in checks)


class StationStateMachine:
    """Everything the loop must remember between polls, for one agent boot."""

    def __init__(
        self, site: str, station: str, boot_id: str,
        last_serials: Mapping[str, str] | None = None,
    ) -> None:
        self._components = ComponentTracker(last_serials)
        self._events = EventNumberer(site, station, boot_id)
        self._unexpected = ChangeWatch()
        self._checks = ChangeWatch()

    def observe(self, result: ProbeResult, now: float) -> Observation:
        components, transitions = self._components.observe(result.components, now)
        events = tuple(self._events.make(t, now) for t in transitions)
        unexpected_changed = self._unexpected.changed(_unexpected_key(result.unexpected))
        checks_changed = self._checks.changed(_check_key(result.checks))
        return Observation(
            components=components, checks=result.checks, unexpected=result.unexpected,
            events=events, changed=bool(events) or unexpected_changed or checks_changed,
        )

    def take_serial_changes(self) -> dict[str, str]:
        """Serials to keep in the journal, so a swap across a restart is reported."""
        return self._components.take_serial_changes()


class HeartbeatBuilder:
    """Builds heartbeats numbered 1, 2, 3 … within one boot."""

    def __init__(self, config: AgentConfig, boot_id: str, version: str) -> None:
        self._config, self._boot_id, self._version = config, boot_id, version
        self._seq = 0
        self._capped: set[str] = set()  # lists already logged as cut to the protocol's bound

    def build(
        self, observation: Observation, host: Host | None, ts: float, uptime_s: float,
        queue: QueueHealth | None = None,
    ) -> Heartbeat:
        self._seq += 1
        return Heartbeat(
            v=PROTOCOL_VERSION, site=self._config.site, station=self._config.station,
            seq=self._seq, boot_id=self._boot_id, ts=ts,
            interval_s=self._config.intervals.heartbeat_s,
            agent=self._agent_info(uptime_s, queue),
            host=host,
            components=self._cap("components", observation.components, MAX_COMPONENTS),
            checks=self._cap("checks", observation.checks, MAX_CHECKS),
            # A hostile hub could list hundreds of devices: the heartbeat stays valid.
            unexpected=self._cap("unexpected", observation.unexpected, MAX_UNEXPECTED),
        )

    def _cap(self, what: str, items: Sequence[_T], limit: int) -> list[_T]:
        """The first `limit` items: the collector refuses a heartbeat with more."""
        if len(items) > limit and what not in self._capped:
            self._capped.add(what)
            log.warning("%d %s this poll, the protocol carries %d: the first %d are sent "
                        "(said once per run)", len(items), what, limit, limit)
        return list(items[:limit])

    def _agent_info(self, uptime_s: float, queue: QueueHealth | None) -> AgentInfo:
        uptime = max(0.0, uptime_s)
        if queue is None:
            return AgentInfo(version=self._version, uptime_s=uptime)
        oldest = msgspec.UNSET if queue.oldest_ts is None else queue.oldest_ts
        return AgentInfo(version=self._version, uptime_s=uptime, queued_events=queue.queued,
                         dropped_events=queue.dropped, oldest_queued_ts=oldest)


# --- probe results -------------------------------------------------------------

def merge_results(results: Iterable[ProbeResult]) -> ProbeResult:
    """One result from all probes, in probe order; the last host figures win."""
    components: list[ComponentReading] = []
    checks: list[Check] = []
    unexpected: list[UnexpectedDevice] = []
    host: Host | None = None
    for result in results:
        components.extend(result.components)
        checks.extend(result.checks)
        unexpected.extend(result.unexpected)
        host = result.host if result.host is not None else host
    return ProbeResult(tuple(components), tuple(checks), tuple(unexpected), host)


def failed_probe_result(config: AgentConfig, probe_name: str, error: str) -> ProbeResult:
    """What a probe that raised stands for: its components and checks become `unknown`.

    A probe owns the components whose kind is its name (usb, display) and the
    `checks` probe owns every configured check; the host probe owns no component.
    """
    detail = clip(f"{probe_name} probe could not run: {error}")
    components = tuple(
        ComponentReading(id=spec.id, kind=spec.kind, required=spec.required,
                         status="unknown", detail=detail)
        for spec in config.components if spec.kind == probe_name
    )
    checks = tuple(
        Check(id=spec.id, kind=spec.kind, status="unknown", detail=detail)
        for spec in config.checks
    ) if probe_name == "checks" else ()
    return ProbeResult(components=components, checks=checks)
