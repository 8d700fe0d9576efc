"""Pantau wire protocol v1: topics, payload types, encode and strict decode.

The one module of the wire contract: the agent builds these Structs and
encodes them, the collector decodes with the same types. A message that does
not fit is refused with a `Rejected` carrying one reason from `REJECT_REASONS`,
a bounded set so the collector can count rejections per reason. Decoding is
fast (id patterns checked after decoding, see `pantau.deferred_patterns`) and
still refuses exactly what the contract refuses, with the same reason text.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Final, Literal, NamedTuple, NoReturn

import msgspec

from pantau.deferred_patterns import DeferredPattern, KnownValues, strict_mirror

PROTOCOL_VERSION: Final = 1
DEFAULT_TOPIC_ROOT: Final = "pantau"
# Both sides cap payloads before sending or parsing: Mosquitto drops oversized
# messages silently and paho's network thread can die on them.
MAX_PAYLOAD_BYTES: Final = 256 * 1024
ID_PATTERN: Final = r"^[a-z0-9][a-z0-9_-]{0,62}$"
HEX_PATTERN: Final = r"^[0-9a-f]{4}$"
_ID_RE: Final = re.compile(ID_PATTERN)

MessageKind = Literal["status", "heartbeat", "event", "ack", "command"]
MESSAGE_KINDS: Final[tuple[MessageKind, ...]] = ("status", "heartbeat", "event", "ack", "command")
ComponentStatus = Literal["ok", "missing", "failed", "unknown"]
COMPONENT_STATUSES: Final[tuple[ComponentStatus, ...]] = ("ok", "missing", "failed", "unknown")
CheckStatus = Literal["ok", "failed", "unknown"]
CHECK_STATUSES: Final[tuple[CheckStatus, ...]] = ("ok", "failed", "unknown")
StationLinkState = Literal["online", "offline", "lost"]

RejectReason = Literal["oversize", "decode", "schema", "version", "topic", "mismatch"]
REJECT_REASONS: Final[tuple[RejectReason, ...]] = (
    "oversize", "decode", "schema", "version", "topic", "mismatch",
)

# Every time on the wire lies in [2000-01-01, 2100-01-01) UTC. A clock mistake
# (milliseconds for seconds, a dead CMOS battery) is refused as `schema` here
# rather than reaching the views, where Python's datetime cannot show it.
TS_MIN: Final = 946_684_800.0  # 2000-01-01T00:00:00Z
TS_END: Final = 4_102_444_800.0  # 2100-01-01T00:00:00Z, excluded
# List bounds: a station cannot blow up the fleet's metric cardinality.
MAX_COMPONENTS: Final = 64
MAX_CHECKS: Final = 64
MAX_UNEXPECTED: Final = 64
MAX_DISKS: Final = 32

Id = Annotated[str, DeferredPattern(ID_PATTERN)]
Ratio = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
NonNegative = Annotated[float, msgspec.Meta(ge=0.0)]
# At most SQLite's largest INTEGER: the collector stores seq numbers, and one
# larger would stop its history writer for the whole fleet.
MAX_SEQ: Final = 2**63 - 1
Seq = Annotated[int, msgspec.Meta(ge=0, le=MAX_SEQ)]
HexId = Annotated[str, DeferredPattern(HEX_PATTERN)]
Short = Annotated[str, msgspec.Meta(max_length=256)]
Detail = Annotated[str, msgspec.Meta(max_length=1024)]
BootId = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
# Seconds since the epoch: the type of every time field, present and future.
Timestamp = Annotated[float, msgspec.Meta(ge=TS_MIN, lt=TS_END)]


class Rejected(Exception):
    """A message that does not fit the contract; `reason` is one of REJECT_REASONS."""

    def __init__(self, reason: RejectReason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason: RejectReason = reason
        self.detail = detail


class PayloadTooLarge(ValueError):
    """Raised by `encode` instead of handing an oversized payload to the broker."""


# --- payload types -----------------------------------------------------------
# gc=False: a payload never refers back to itself, so the cycle collector need
# not track (or walk) the ~60 Structs each heartbeat allocates.

class Device(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    vid: HexId
    pid: HexId
    serial: Short = ""
    bus: int = 0
    port: Short = ""
    speed: Short = ""
    manufacturer: Short = ""
    product: Short = ""


class UsbId(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """A USB model: vendor and product id as `lsusb` shows them, and its usb.ids name."""

    vid: HexId
    pid: HexId
    name: Short = ""


MAX_EXPECTED: Final = 64  # the agent config allows no more match entries per role in practice
MAX_UNITS: Final = 64  # a component's `count` is at most 64


class Component(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One role of the kit and its status.

    Three optional fields (added in v1 without a version bump; absent unless
    set, so payloads without them are byte-identical to the older ones; see
    docs/protocol.md, "Stand-ins and the models a role expects"):
    `standin` true when the role is served by a device that matched a match
    entry marked `standin = true`; `expected` the models that fill the role
    for good (non-stand-in entries, in config order), sent while the role is
    missing or on a stand-in; `missing_units` how many units of a `count > 1`
    role are absent (a missing role without it lacks one unit).
    """

    id: Id
    kind: Short
    required: bool
    status: ComponentStatus
    since: Timestamp
    detail: Detail = ""
    device: Device | None = None
    standin: bool | msgspec.UnsetType = msgspec.UNSET
    expected: Annotated[list[UsbId], msgspec.Meta(max_length=MAX_EXPECTED)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    missing_units: Annotated[int, msgspec.Meta(ge=1, le=MAX_UNITS)] | msgspec.UnsetType = (
        msgspec.UNSET
    )


class Check(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    id: Id
    kind: Short
    status: CheckStatus
    latency_s: NonNegative | None = None
    detail: Detail = ""


class UnexpectedDevice(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    vid: HexId
    pid: HexId
    product: Short = ""
    port: Short = ""
    serial: Short = ""


class Disk(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    mount: Short
    used_ratio: Ratio
    free_bytes: Annotated[int, msgspec.Meta(ge=0)]


class Host(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    hostname: Short
    boot_time: Timestamp
    cpu_ratio: Ratio
    load1: NonNegative
    memory_used_ratio: Ratio
    swap_used_ratio: Ratio
    disks: Annotated[list[Disk], msgspec.Meta(max_length=MAX_DISKS)] = []
    temperature_c: float | None = None
    clock_offset_s: float | None = None


Count = Annotated[int, msgspec.Meta(ge=0, le=2**53)]  # exact as a float in /metrics


class AgentInfo(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """The agent itself, and the health of its event queue.

    Three optional fields (added in v1 without a version bump; left out when
    unset, so payloads without them are byte-identical to the older ones; see
    docs/protocol.md, "Agent queue health"): `queued_events` events in the
    journal not yet acked, `dropped_events` events the queue bounds dropped
    unacked since the journal was created (persisted in it), and
    `oldest_queued_ts` the oldest queued event's queue time on the clock of
    this heartbeat's `ts` (its age is measured on a monotonic clock).
    """

    version: Short
    uptime_s: NonNegative
    queued_events: Count | msgspec.UnsetType = msgspec.UNSET
    dropped_events: Count | msgspec.UnsetType = msgspec.UNSET
    oldest_queued_ts: Timestamp | msgspec.UnsetType = msgspec.UNSET


class Heartbeat(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    v: int
    site: Id
    station: Id
    seq: Seq
    boot_id: BootId
    ts: Timestamp
    interval_s: Annotated[float, msgspec.Meta(gt=0.0, le=86400.0)]
    agent: AgentInfo
    host: Host | None = None
    # Required, even empty: a heartbeat without its components is not "no components"
    # (that would resolve every part alert of the station silently).
    components: Annotated[list[Component], msgspec.Meta(max_length=MAX_COMPONENTS)]
    checks: Annotated[list[Check], msgspec.Meta(max_length=MAX_CHECKS)]
    unexpected: Annotated[list[UnexpectedDevice], msgspec.Meta(max_length=MAX_UNEXPECTED)]


class Status(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Birth (`online`), Last Will (`lost`) and clean stop (`offline`)."""

    state: StationLinkState
    boot_id: BootId
    session: Seq
    ts: Timestamp | None = None
    reason: Short = ""
    v: int = PROTOCOL_VERSION


class Event(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One component transition; `(station, boot_id, seq)` identifies it exactly once.

    `oldest_pending` (optional, added in v1 without a version bump): the lowest
    seq of this boot the agent still held unacked when it sent this message.
    Everything below it was either acked by the collector or dropped by the
    agent's own queue bounds (and counted there), so the collector may move its
    ack mark up to `oldest_pending - 1` without having stored those events. It
    is set at send time, not when the event is queued, and it is left out of
    the JSON when unset (`UNSET`), so payloads without it are byte-identical to
    the older ones. See docs/protocol.md, "Event delivery and acks".
    """

    v: int
    site: Id
    station: Id
    boot_id: BootId
    seq: Seq
    ts: Timestamp
    component: Id
    from_: ComponentStatus = msgspec.field(name="from")
    to: ComponentStatus
    detail: Detail = ""
    oldest_pending: Seq | msgspec.UnsetType = msgspec.UNSET


class Ack(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Collector → agent: every event of `boot_id` up to and including `seq` is stored."""

    boot_id: BootId
    seq: Seq


class Command(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    cmd: Short


Payload = Heartbeat | Status | Event | Ack | Command
_TYPES: Final[dict[MessageKind, type[Payload]]] = {
    "status": Status, "heartbeat": Heartbeat, "event": Event, "ack": Ack, "command": Command,
}


# --- topics ------------------------------------------------------------------

class TopicParts(NamedTuple):  # a NamedTuple: built per message, 2x cheaper than a dataclass
    site: str
    station: str
    kind: MessageKind


def is_valid_id(value: str) -> bool:
    return _ID_RE.fullmatch(value) is not None


def topic_for(site: str, station: str, kind: MessageKind, root: str = DEFAULT_TOPIC_ROOT) -> str:
    if not (is_valid_id(site) and is_valid_id(station)):
        raise ValueError(f"site {site!r} / station {station!r} must match {ID_PATTERN}")
    return f"{root}/v{PROTOCOL_VERSION}/{site}/{station}/{kind}"


def subscription_filters(
    kinds: tuple[MessageKind, ...], sites: tuple[str, ...] = (), root: str = DEFAULT_TOPIC_ROOT
) -> list[str]:
    """MQTT filters for `kinds`, for every site or only the given ones (sharding)."""
    scopes = list(sites) or ["+"]
    return [f"{root}/v{PROTOCOL_VERSION}/{s}/+/{k}" for s in scopes for k in kinds]


_TOPIC_RES: Final[dict[str, re.Pattern[str] | None]] = {}


def _topic_re(root: str) -> re.Pattern[str] | None:
    """One regex for a whole valid topic: a single C call on the per-message path."""
    if root not in _TOPIC_RES:
        ident = ID_PATTERN.removeprefix("^").removesuffix("$")
        kinds = "|".join(MESSAGE_KINDS)
        # A root with "/" never yields 5 parts below: no shortcut for it.
        _TOPIC_RES[root] = None if "/" in root else re.compile(
            f"{re.escape(root)}/v{PROTOCOL_VERSION}/({ident})/({ident})/({kinds})"
        )
    return _TOPIC_RES[root]


def parse_topic(topic: str, root: str = DEFAULT_TOPIC_ROOT) -> TopicParts:
    pattern = _topic_re(root)
    valid = pattern.fullmatch(topic) if pattern is not None else None
    if valid is not None:
        return TopicParts(*valid.groups())  # type: ignore[arg-type]  # kind is one of them
    # Refused (or an unusual root): find the reason step by step.
    parts = topic.split("/")
    if len(parts) != 5 or parts[0] != root:
        raise Rejected("topic", f"{topic!r} is not {root}/v1/<site>/<station>/<kind>")
    if parts[1] != f"v{PROTOCOL_VERSION}":
        raise Rejected("version", f"topic version {parts[1]!r} is not v{PROTOCOL_VERSION}")
    _, _, site, station, kind = parts
    if not (is_valid_id(site) and is_valid_id(station)):
        raise Rejected("topic", f"site/station in {topic!r} must match {ID_PATTERN}")
    if kind not in MESSAGE_KINDS:
        raise Rejected("topic", f"unknown message kind {kind!r} in {topic!r}")
    return TopicParts(site, station, kind)


# --- fast decoders and the refusals they name ---------------------------------

class _Versioned(msgspec.Struct):
    v: object = PROTOCOL_VERSION


_DECODERS: Final = {kind: msgspec.json.Decoder(t) for kind, t in _TYPES.items()}
_STRICT_DECODERS: Final[dict[MessageKind, msgspec.json.Decoder[Any]]] = {
    kind: msgspec.json.Decoder(strict_mirror(t)) for kind, t in _TYPES.items()
}
_VERSION_DECODER: Final = msgspec.json.Decoder(_Versioned)
# Component, check and USB ids repeat across the whole fleet; site and station
# ids do not (tens of thousands would flush the cache), see _origin_ok.
_KNOWN_IDS: Final = KnownValues(ID_PATTERN)
_KNOWN_HEX: Final = KnownValues(HEX_PATTERN)


def _heartbeat_ids_ok(hb: Heartbeat) -> bool:
    """The Id / HexId fields of a heartbeat except site and station (see callers)."""
    ids, hexes = _KNOWN_IDS.seen, _KNOWN_HEX.seen  # set lookups inline: runs per heartbeat
    learn_id, hex_ok = _KNOWN_IDS.learn, _KNOWN_HEX.ok
    for c in hb.components:
        if c.id not in ids and not learn_id(c.id):
            return False
        d = c.device
        if d is not None and (d.vid not in hexes or d.pid not in hexes) and not (
            hex_ok(d.vid) and hex_ok(d.pid)
        ):
            return False
        if c.expected and not all(hex_ok(u.vid) and hex_ok(u.pid) for u in c.expected):
            return False  # UNSET is falsy: one truth test for the usual component
    for k in hb.checks:
        if k.id not in ids and not learn_id(k.id):
            return False
    return all(hex_ok(u.vid) and hex_ok(u.pid) for u in hb.unexpected)


def _origin_ok(msg: Heartbeat | Event) -> bool:
    """Site and station match ID_PATTERN (as msgspec's pattern check reads it)."""
    return _ID_RE.search(msg.site) is not None and _ID_RE.search(msg.station) is not None


def _inner_ids_ok(msg: Payload) -> bool:
    if isinstance(msg, Heartbeat):
        return _heartbeat_ids_ok(msg)
    return not isinstance(msg, Event) or _KNOWN_IDS.ok(msg.component)


def _decode_unchecked_origin(kind: MessageKind, payload: bytes, limit: int) -> Payload:
    """Everything `decode` checks except a heartbeat's or event's site and station."""
    if len(payload) > limit:
        raise Rejected("oversize", f"{kind} payload of {len(payload)} bytes exceeds {limit}")
    try:
        msg = _DECODERS[kind].decode(payload)
    except (msgspec.ValidationError, msgspec.DecodeError):
        _strict_reject(kind, payload)
    except RecursionError:  # msgspec recurses into deeply nested (even unknown) fields
        raise Rejected("decode", f"{kind}: JSON nested too deeply") from None
    if not _inner_ids_ok(msg):
        _strict_reject(kind, payload)
    version = getattr(msg, "v", PROTOCOL_VERSION)
    if version != PROTOCOL_VERSION:
        raise Rejected("version", f"{kind} has v={version}, this side speaks v{PROTOCOL_VERSION}")
    if isinstance(msg, Heartbeat):
        _refuse_duplicates(msg)
    return msg


def _refuse_duplicates(hb: Heartbeat) -> None:
    """Component ids, check ids and disk mounts are keys (labels, rows): each once."""
    comps, checks, host = hb.components, hb.checks, hb.host
    if len(comps) > 1 and len({c.id for c in comps}) != len(comps):
        _duplicate("component id", [c.id for c in comps])
    if len(checks) > 1 and len({k.id for k in checks}) != len(checks):
        _duplicate("check id", [k.id for k in checks])
    if host is not None and len(host.disks) > 1 and (
        len({d.mount for d in host.disks}) != len(host.disks)
    ):
        _duplicate("disk mount", [d.mount for d in host.disks])


def _duplicate(what: str, keys: list[str]) -> NoReturn:
    twice = next(k for i, k in enumerate(keys) if k in keys[:i])
    raise Rejected("schema", f"heartbeat: {what} {twice!r} appears more than once")


def _strict_reject(kind: MessageKind, payload: bytes) -> NoReturn:
    """Name why `payload` is refused, exactly as the pattern-checking decoder does."""
    try:
        _STRICT_DECODERS[kind].decode(payload)
    except msgspec.ValidationError as exc:
        _raise_if_wrong_version(kind, payload)
        raise Rejected("schema", f"{kind}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise Rejected("decode", f"{kind}: {exc}") from None
    except RecursionError:
        raise Rejected("decode", f"{kind}: JSON nested too deeply") from None
    # msgspec's pattern check lets a trailing newline through; the id checks do not.
    raise Rejected("schema", f"{kind}: an id or USB id does not match {ID_PATTERN} exactly "
                             "(a trailing newline?)")


def _raise_if_wrong_version(kind: MessageKind, payload: bytes) -> None:
    # A v2 payload usually fails the v1 schema first; name the real cause.
    try:
        version = _VERSION_DECODER.decode(payload).v
    except (msgspec.ValidationError, msgspec.DecodeError, RecursionError):
        return
    if version != PROTOCOL_VERSION:
        raise Rejected("version", f"{kind} has v={version!r}, this side speaks v{PROTOCOL_VERSION}")


# --- encode / decode ---------------------------------------------------------

_ENCODER: Final = msgspec.json.Encoder()


def encode(payload: Payload, limit: int = MAX_PAYLOAD_BYTES) -> bytes:
    data = _ENCODER.encode(payload)
    if len(data) > limit:
        raise PayloadTooLarge(
            f"{type(payload).__name__} payload is {len(data)} bytes, over the {limit}-byte cap"
        )
    return data


def decode(kind: MessageKind, payload: bytes, limit: int = MAX_PAYLOAD_BYTES) -> Payload:
    """Decode one payload of `kind`, or raise `Rejected` with a named reason."""
    msg = _decode_unchecked_origin(kind, payload, limit)
    if isinstance(msg, Heartbeat | Event) and not _origin_ok(msg):
        _strict_reject(kind, payload)
    return msg


def decode_message(
    topic: str, payload: bytes, root: str = DEFAULT_TOPIC_ROOT, limit: int = MAX_PAYLOAD_BYTES
) -> tuple[TopicParts, Payload]:
    """Parse topic and payload together; a payload naming another station is `mismatch`."""
    parts = parse_topic(topic, root)
    msg = _decode_unchecked_origin(parts.kind, payload, limit)
    # The topic's ids are already checked (and more strictly), so equal ones are
    # valid; only an unequal pair needs the pattern, to tell schema from mismatch.
    if isinstance(msg, Heartbeat | Event) and (
        msg.station != parts.station or msg.site != parts.site
    ):
        if not _origin_ok(msg):
            _strict_reject(parts.kind, payload)
        raise Rejected(
            "mismatch",
            f"payload says {msg.site}/{msg.station} but topic says {parts.site}/{parts.station}",
        )
    return parts, msg
