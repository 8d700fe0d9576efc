"""How `agent.protocol` decodes fast and still refuses exactly what the contract refuses.

Read `agent.protocol` for the contract itself (types, topics, `decode`); this is
the machinery behind it. The fast decoders carry no regex on id fields
(msgspec's `Meta(pattern=...)` is two thirds of a heartbeat's decode), so ids
are checked afterwards against small sets of values already seen valid. When
that or anything else fails, the payload is decoded again with strict mirror
types that carry the real `Meta(pattern=...)`, so a rejection gets exactly the
reason and text the pattern-checking decoder always gave.

Imports: this module needs the contract's Structs at import time (to build its
decoders) and `agent.protocol` needs these functions only when called. So this
module imports `agent.protocol` normally, and `agent.protocol` imports this one
as a module object on its last line, once every name here reads is defined.
That works whichever of the two is imported first; nothing else imports this.
"""

from __future__ import annotations

import re
import types
from typing import Annotated, Any, Final, NoReturn, Union, get_args, get_origin

import msgspec

from agent.protocol import (
    _HEX_RE,
    _ID_RE,
    _TYPES,
    ID_PATTERN,
    PROTOCOL_VERSION,
    Event,
    Heartbeat,
    MessageKind,
    Payload,
    Rejected,
    _Pattern,
)


class _Versioned(msgspec.Struct):
    v: object = PROTOCOL_VERSION


# --- strict mirror types -----------------------------------------------------


def _strict_type(tp: Any, memo: dict[type, type]) -> Any:
    """`tp` with every `_Pattern` marker turned into msgspec's own pattern check."""
    origin, args = get_origin(tp), get_args(tp)
    if origin is Annotated:
        marks = [m for m in args[1:] if isinstance(m, _Pattern)]
        if marks:
            return Annotated[str, msgspec.Meta(pattern=marks[0].pattern)]
        return Annotated[(_strict_type(args[0], memo), *args[1:])]
    if origin is list:
        return list[_strict_type(args[0], memo)]  # type: ignore[misc]
    if origin in (Union, types.UnionType):
        return Union[tuple(_strict_type(a, memo) for a in args)]  # noqa: UP007 (built at runtime)
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        return _strict_struct(tp, memo)
    return tp


def _strict_struct(struct: type[msgspec.Struct], memo: dict[type, type]) -> type:
    if struct not in memo:
        fields = [
            (f.name, _strict_type(f.type, memo), _same_default(f))
            for f in msgspec.structs.fields(struct)
        ]
        memo[struct] = msgspec.defstruct(f"Strict{struct.__name__}", fields, kw_only=True)
    return memo[struct]


def _same_default(f: msgspec.structs.FieldInfo) -> Any:
    if f.default is not msgspec.NODEFAULT:
        return msgspec.field(default=f.default, name=f.encode_name)
    if f.default_factory is not msgspec.NODEFAULT:
        return msgspec.field(default_factory=f.default_factory, name=f.encode_name)
    return msgspec.field(name=f.encode_name)


_DECODERS: Final = {kind: msgspec.json.Decoder(t) for kind, t in _TYPES.items()}
_STRICT_DECODERS: Final[dict[MessageKind, msgspec.json.Decoder[Any]]] = {
    kind: msgspec.json.Decoder(_strict_struct(t, {})) for kind, t in _TYPES.items()
}
_VERSION_DECODER: Final = msgspec.json.Decoder(_Versioned)

# --- ids already seen valid --------------------------------------------------
# Values seen to match ID_PATTERN / HEX_PATTERN: component, check and USB ids
# repeat across the whole fleet, so a set lookup replaces most regex runs.
_KNOWN_IDS: Final[set[str]] = set()
_KNOWN_HEX: Final[set[str]] = set()
_KNOWN_CAP: Final = 4096  # bounds memory when someone sends random ids


def _learn(known: set[str], pattern: re.Pattern[str], value: str) -> bool:
    # fullmatch(), stricter than msgspec's search(): `$` would also match before
    # a final newline, and an id with a newline is no id (labels, URLs, topics).
    if pattern.fullmatch(value) is None:
        return False
    if len(known) >= _KNOWN_CAP:
        known.clear()
    known.add(value)
    return True


def _id_ok(value: str) -> bool:
    return value in _KNOWN_IDS or _learn(_KNOWN_IDS, _ID_RE, value)


def _hex_ok(value: str) -> bool:
    return value in _KNOWN_HEX or _learn(_KNOWN_HEX, _HEX_RE, value)


def _heartbeat_ids_ok(hb: Heartbeat) -> bool:
    """The Id / HexId fields of a heartbeat except site and station (see callers)."""
    ids, hexes = _KNOWN_IDS, _KNOWN_HEX  # set lookups inline: this runs per heartbeat
    for c in hb.components:
        if c.id not in ids and not _learn(ids, _ID_RE, c.id):
            return False
        d = c.device
        if d is not None and (d.vid not in hexes or d.pid not in hexes) and not (
            _hex_ok(d.vid) and _hex_ok(d.pid)
        ):
            return False
    for k in hb.checks:
        if k.id not in ids and not _learn(ids, _ID_RE, k.id):
            return False
    return all(_hex_ok(u.vid) and _hex_ok(u.pid) for u in hb.unexpected)


def origin_ok(msg: Heartbeat | Event) -> bool:
    """Site and station match ID_PATTERN (as msgspec's pattern check reads it)."""
    # Not through _KNOWN_IDS: tens of thousands of stations would flush it.
    return _ID_RE.search(msg.site) is not None and _ID_RE.search(msg.station) is not None


def _inner_ids_ok(msg: Payload) -> bool:
    if isinstance(msg, Heartbeat):
        return _heartbeat_ids_ok(msg)
    return not isinstance(msg, Event) or _id_ok(msg.component)


# --- decode and name the rejection -------------------------------------------


def decode_unchecked_origin(kind: MessageKind, payload: bytes, limit: int) -> Payload:
    """Everything `decode` checks except a heartbeat's or event's site and station."""
    if len(payload) > limit:
        raise Rejected("oversize", f"{kind} payload of {len(payload)} bytes exceeds {limit}")
    try:
        msg = _DECODERS[kind].decode(payload)
    except (msgspec.ValidationError, msgspec.DecodeError):
        strict_reject(kind, payload)
    except RecursionError:  # msgspec recurses into deeply nested (even unknown) fields
        raise Rejected("decode", f"{kind}: JSON nested too deeply") from None
    if not _inner_ids_ok(msg):
        strict_reject(kind, payload)
    version = getattr(msg, "v", PROTOCOL_VERSION)
    if version != PROTOCOL_VERSION:
        raise Rejected("version", f"{kind} has v={version}, this side speaks v{PROTOCOL_VERSION}")
    return msg


def strict_reject(kind: MessageKind, payload: bytes) -> NoReturn:
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
