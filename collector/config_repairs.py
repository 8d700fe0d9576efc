"""The collector's `[repairs]` table: when a part counts as a repair, and who may edit one.

    [repairs]
    min_open_s = 120            # a part back sooner was a blip, not a repair (default 120)
    writers = ["budi", "sari"]  # basic-auth users who may set ordered_at, ticket and note

Writers must be users of `[http] basic_auth_users_file`: a writer nobody can
log in as is a typo, refused at start. Without writers (the default) every
write is refused with 403, as it is without basic auth. Leave Prometheus'
scrape account out: it only reads.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Final

from collector.repairs import DEFAULT_MIN_OPEN_S
from pantau.config import FieldParser, Section, describe

MAX_MIN_OPEN_S: Final = 7 * 86400.0


@dataclass(frozen=True, slots=True)
class RepairsConfig:
    min_open_s: float = DEFAULT_MIN_OPEN_S
    writers: tuple[str, ...] = ()


def _min_open(sec: Section, name: str) -> float:
    value = sec.data[name]
    ok = isinstance(value, int | float) and not isinstance(value, bool)
    if not ok or not 0 <= float(value) <= MAX_MIN_OPEN_S:  # type: ignore[arg-type]
        reason = f"expected seconds from 0 to {MAX_MIN_OPEN_S:g} (7 days), got {describe(value)}"
        raise sec.error(name, reason)
    return float(value)  # type: ignore[arg-type]


def _writers(sec: Section, name: str) -> tuple[str, ...]:
    value = sec.data[name]
    if not isinstance(value, list):
        raise sec.error(name, f'expected an array of user names like ["budi"], '
                              f"got {describe(value)}")
    for i, item in enumerate(value):
        if not isinstance(item, str) or not item:
            raise sec.error(f"{name}[{i}]", f"expected a user name, got {describe(item)}")
    return tuple(value)


SCHEMA: Final[dict[str, FieldParser]] = {"min_open_s": _min_open, "writers": _writers}


def parse_repairs(sec: Section, users: Collection[str]) -> RepairsConfig:
    """`sec` is the [repairs] table (empty if absent); `users` those of the users file."""
    fields = sec.fields(SCHEMA)
    writers: tuple[str, ...] = fields.get("writers", ())
    for i, writer in enumerate(writers):
        if not users:
            raise sec.error("writers", "needs [http] basic_auth_users_file: writers are "
                                       "basic-auth users; set it, or remove writers")
        if writer not in users:
            raise sec.error(f"writers[{i}]", f'"{writer}" is not a user of [http] '
                                             "basic_auth_users_file; add the user "
                                             "(pantau-collector hash-password) or fix the name")
    return RepairsConfig(fields.get("min_open_s", DEFAULT_MIN_OPEN_S), writers)
