"""String fields whose regex check is deferred, for fast msgspec decoding.

msgspec's `Meta(pattern=...)` costs ~0.4 us per string, two thirds of a
heartbeat's decode. So a contract marks such fields with `DeferredPattern`
(which msgspec ignores), decodes fast without the regex, and checks the
values afterwards against a small cache of values already seen valid
(`KnownValues`). When that fails, it decodes once more with a strict mirror
of its types (`strict_mirror`) that carries msgspec's real pattern check, so
a refusal reads exactly as the pattern-checking decoder words it.

Generic on purpose: nothing here knows the wire contract.
"""

from __future__ import annotations

import re
import types
from typing import Annotated, Any, Final, Union, get_args, get_origin

import msgspec

KNOWN_CAP: Final = 4096  # bounds memory when someone sends random values


class DeferredPattern:
    """Marks a str field that must match `pattern`; msgspec itself ignores this marker."""

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern


class KnownValues:
    """Values seen to match one pattern: ids repeat across a fleet, so a set
    lookup replaces most regex runs."""

    def __init__(self, pattern: str) -> None:
        self.regex = re.compile(pattern)
        self.seen: set[str] = set()

    def ok(self, value: str) -> bool:
        return value in self.seen or self.learn(value)

    def learn(self, value: str) -> bool:
        # fullmatch(), stricter than msgspec's search(): `$` would also match before
        # a final newline, and an id with a newline is no id (labels, URLs, topics).
        if self.regex.fullmatch(value) is None:
            return False
        if len(self.seen) >= KNOWN_CAP:
            self.seen.clear()
        self.seen.add(value)
        return True


def strict_mirror(struct: type[msgspec.Struct]) -> type:
    """A Struct type like `struct`, with every `DeferredPattern` made msgspec's own check."""
    return _strict_struct(struct, {})


def _strict_type(tp: Any, memo: dict[type, type]) -> Any:
    origin, args = get_origin(tp), get_args(tp)
    if origin is Annotated:
        marks = [m for m in args[1:] if isinstance(m, DeferredPattern)]
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
