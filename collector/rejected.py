"""Events this collector refuses but can still name, so that they never block acks.

During a rolling upgrade an agent may send events this collector's decoder
refuses: a newer protocol version (`version`) or a field value it does not
know yet (`schema`). Acks are cumulative per boot, so one such event would
hold back the ack of every later event of its boot, and the agent would send
them all again every ack timeout until its own queue bounds dropped the
blocker: lost. Instead the collector keeps the refused event, raw payload and
all (at most the payload cap, 256 KiB), and acks past it;
`pantau-collector replay-rejected` puts it into the history once an upgraded
collector accepts it.

What names the event: site and station come from the topic (checked by
`parse_topic`), `boot_id` and `seq` (and `oldest_pending`) from a lenient
decode of the JSON that reads only those fields, with the contract's bounds.
An event whose key cannot be read — not JSON, no `boot_id` or `seq`, values
out of bounds, or a payload naming another station — is refused as before and
not acked: the agent keeps it and sends it again, an upgraded collector will
take it, and until then its boot's acks stop below it.
"""

from __future__ import annotations

from typing import Any, Final, NamedTuple

import msgspec

from pantau.wire import BootId, Rejected, Seq, parse_topic

# The refusals a newer agent can cause with a well-formed event.
KEPT_REASONS: Final = frozenset({"schema", "version"})
DETAIL_CHARS: Final = 1024  # of the refusal's text, kept beside the payload


class RefusedEvent(NamedTuple):
    site: str
    station: str
    boot_id: str
    seq: int
    oldest_pending: int | None


class _Key(msgspec.Struct):
    boot_id: BootId
    seq: Seq
    oldest_pending: Seq | None = None
    site: Any = None
    station: Any = None


_KEY_DECODER: Final = msgspec.json.Decoder(_Key)


def refused_event(topic: str, payload: bytes, root: str, reason: str) -> RefusedEvent | None:
    """The key of a refused event that may be kept and acked, or None (see module doc)."""
    if reason not in KEPT_REASONS:
        return None
    try:
        parts = parse_topic(topic, root)
        key = _KEY_DECODER.decode(payload)
    except (Rejected, msgspec.DecodeError, msgspec.ValidationError, RecursionError):
        return None
    if parts.kind != "event" or key.site not in (None, parts.site) or key.station not in (
        None, parts.station
    ):
        return None
    return RefusedEvent(parts.site, parts.station, key.boot_id, key.seq, key.oldest_pending)
