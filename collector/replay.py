"""`pantau-collector replay-rejected`: put stored refused events into the history.

The collector keeps events its decoder refused but could name (collector.rejected)
in the table `rejected_events`, raw payload and all, and acks past them. After
the collector is upgraded to a version that accepts them, this decodes each
one again with the current decoder: an accepted event is added to `events`
(with the time it was first received; one the agent sent again to the upgraded
collector is there already and is not added twice) and its row is marked
`replayed`; one still refused stays waiting, counted by reason. Safe to run
while the collector runs (SQLite WAL, one short transaction per chunk) and to
run again.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Sequence
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from collector.errors import CollectorError
from collector.store_file import INSERT_EVENTS, SCHEMA
from pantau.wire import Event, Rejected, decode_message, topic_for

CHUNK: Final = 500  # rows per transaction: the running collector's writer waits at most that
BUSY_TIMEOUT_S: Final = 30.0


class ReplayError(CollectorError):
    """The history database cannot be read or written; the message says which and why."""


@dataclass(slots=True)
class ReplayReport:
    replayed: int = 0  # added to the history now
    present: int = 0  # accepted, but the history had it already (the agent sent it again)
    refused: Counter[str] = field(default_factory=Counter)  # still refused, by reason

    def summary(self) -> str:
        done = f"{self.replayed} refused event(s) added to the history"
        if self.present:
            done += f", {self.present} already there"
        if not self.refused:
            return done
        reasons = ", ".join(f"{reason}: {n}" for reason, n in sorted(self.refused.items()))
        return (f"{done}; {self.refused.total()} still refused by this version ({reasons}): "
                "they stay stored, run this again after upgrading the collector")


def replay_rejected(db: Path, root: str, now: float) -> ReplayReport:
    """Replay every waiting row of `db` (see module doc); ReplayError if it cannot."""
    if not db.is_file():
        raise ReplayError(f"no history database at {db}; check [state] data_dir or --data-dir")
    report = ReplayReport()
    try:
        with closing(sqlite3.connect(db, timeout=BUSY_TIMEOUT_S)) as conn:
            conn.executescript(SCHEMA)  # a database from before the table: nothing waits
            last = 0
            while rows := conn.execute(
                "SELECT id, site, station, received, payload FROM rejected_events "
                "WHERE replayed IS NULL AND id > ? ORDER BY id LIMIT ?", (last, CHUNK),
            ).fetchall():
                with conn:
                    _replay_chunk(conn, rows, root, now, report)
                last = rows[-1][0]
    except sqlite3.Error as exc:
        raise ReplayError(f"cannot replay refused events in {db}: {exc}") from exc
    return report


def _replay_chunk(
    conn: sqlite3.Connection, rows: Sequence[tuple[Any, ...]], root: str, now: float,
    report: ReplayReport,
) -> None:
    for row_id, site, station, received, payload in rows:
        try:
            _, ev = decode_message(topic_for(site, station, "event", root), payload, root)
        except Rejected as exc:
            report.refused[exc.reason] += 1
            continue
        assert isinstance(ev, Event)  # the topic says event
        added = conn.execute(INSERT_EVENTS, (
            ev.station, ev.site, ev.boot_id, ev.seq, ev.ts, received, ev.component,
            ev.from_, ev.to, ev.detail)).rowcount
        conn.execute("UPDATE rejected_events SET replayed = ? WHERE id = ?", (now, row_id))
        if added:
            report.replayed += 1
        else:
            report.present += 1
