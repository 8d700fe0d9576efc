"""Room for the event queue's SQLite file to keep working when its disk is full.

SQLite needs free disk space even to delete: in WAL mode every change, a
DELETE included, is first appended to the WAL. On a full disk the queue could
therefore neither drop its oldest events to make room for new ones nor apply
the collector's acks. Three things give it room:

- a reserve file `<queue>.reserve` (256 KiB of real blocks), made at open and
  again by `enforce_bounds` whenever the disk has room for it and as much
  again; on the first SQLITE_FULL it is deleted, so SQLite can finish a
  checkpoint and the DELETE of the oldest events;
- a small auto-checkpoint (32 pages, ~128 KiB): the WAL never holds more new
  pages than the reserve can take when a checkpoint folds them into the file;
- once the disk was full, a cap on the file's page count (`max_page_count`):
  new events then reuse the pages of dropped ones instead of growing the
  file, and after a RESTART checkpoint each write goes into space the WAL
  file already has. So the queue keeps working with no free byte on the disk.

The cap is lifted once the reserve is back and the disk has as much room
again (someone cleaned up).
"""

from __future__ import annotations

import logging
import os
import sqlite3
from pathlib import Path
from typing import Final

log = logging.getLogger(__name__)

RESERVE_BYTES: Final = 256 * 1024
WAL_AUTOCHECKPOINT_PAGES: Final = 32  # about half the reserve, at 4 KiB a page


def is_disk_full(exc: sqlite3.Error) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is None:
        return "full" in str(exc)
    return bool((code & 0xFF) == sqlite3.SQLITE_FULL)


class QueueRoom:
    """Owns the reserve file and the page cap of one queue connection (the caller locks)."""

    def __init__(self, db: sqlite3.Connection, path: Path) -> None:
        self.reserve = path.with_name(path.name + ".reserve")
        self.capped = False
        self._db = db
        self._path = path
        self._uncapped = int(db.execute("PRAGMA max_page_count").fetchone()[0])

    def free_bytes(self) -> int:
        try:
            st = os.statvfs(self._path.parent)
        except OSError:
            return 0
        return st.f_bavail * st.f_frsize

    def restore_reserve(self) -> None:
        """(Re)make the reserve when the disk has room for it and as much again."""
        if self.reserve.exists() or self.free_bytes() < 2 * RESERVE_BYTES:
            return
        try:
            with self.reserve.open("wb") as f:
                f.write(bytes(RESERVE_BYTES))  # real blocks: a sparse file reserves nothing
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            log.warning("event queue %s: cannot write the reserve %s: %s",
                        self._path, self.reserve, exc)
            self.reserve.unlink(missing_ok=True)

    def work_in_place(self, exc: sqlite3.Error) -> None:
        """The disk is full: free the reserve, fold the WAL in, stop the file growing."""
        if self.reserve.exists():
            log.error("event queue %s: disk full (%s); deleting the reserve %s to keep "
                      "working; free some space on this disk", self._path, exc, self.reserve)
            self.reserve.unlink(missing_ok=True)
        self.checkpoint()
        self._cap_at(int(self._db.execute("PRAGMA page_count").fetchone()[0]))
        self.capped = True

    def lift_cap_if_room(self) -> bool:
        """Let the file grow again once the disk has room; True when it did. Only with the
        reserve back in place: the next full disk must find it there to spend."""
        if not self.capped or not self.reserve.exists() or self.free_bytes() < RESERVE_BYTES:
            return False
        self._cap_at(self._uncapped)
        self.capped = False
        log.info("event queue %s: the disk has room again; the queue file may grow", self._path)
        return True

    def checkpoint(self) -> None:
        # RESTART: the next write starts the WAL from its beginning, in space it already has.
        busy = self._db.execute("PRAGMA wal_checkpoint(RESTART)").fetchone()[0]
        if busy:
            log.warning("event queue %s: the WAL checkpoint could not finish", self._path)

    def _cap_at(self, pages: int) -> None:
        self._db.execute(f"PRAGMA max_page_count = {pages}")
