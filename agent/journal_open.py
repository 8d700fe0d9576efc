"""Opening the agent's event journal: WAL and full sync, a corrupt file set aside.

Only damage sets a file aside (SQLITE_CORRUPT, SQLITE_NOTADB, a failed
quick_check): a full disk or a permission problem leaves a good queue where it
is and is a JournalError saying what to fix. A full disk can refuse even the
open (the WAL index, a schema upgrade), so the reserve (agent.journal_space)
is spent once to get in.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path

from agent.errors import JournalError
from agent.journal_meta import add_queue_clock_column
from agent.journal_space import WAL_AUTOCHECKPOINT_PAGES

log = logging.getLogger(__name__)


def open_journal(
    path: Path, schema: str, clock: Callable[[], float], set_aside: list[Path]
) -> sqlite3.Connection:
    """The journal's connection; a corrupt file is moved aside (appended to `set_aside`)
    and a fresh one made. Anything else that stops it opening is a JournalError."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise JournalError(f"cannot create queue directory {path.parent}: {exc}; "
                         "create it writable for the agent user") from exc
    try:
        return _open_spending_reserve(path, schema)
    except sqlite3.DatabaseError as exc:
        if not _is_corrupt(exc):  # a full disk or permissions: the file is fine, keep it
            raise JournalError(f"cannot open event queue {path}: {exc}; free space "
                               "on its disk and check the directory's permissions") from exc
        aside = path.with_name(f"{path.name}.corrupt-{int(clock())}")
        log.error("event queue %s is unreadable (%s); moved aside to %s, starting empty",
                  path, exc, aside)
        _move_aside(path, aside, set_aside)
    try:
        return _open(path, schema)
    except sqlite3.DatabaseError as exc:
        raise JournalError(f"cannot create event queue {path}: {exc}; "
                         "check the disk and the directory's permissions") from exc


def _open_spending_reserve(path: Path, schema: str) -> sqlite3.Connection:
    """A full disk can refuse even an open (the WAL index, a schema upgrade): spend the
    reserve (agent.journal_space) once to get in."""
    try:
        return _open(path, schema)
    except sqlite3.OperationalError as exc:
        reserve = path.with_name(path.name + ".reserve")
        if _is_corrupt(exc) or not reserve.exists():
            raise
        log.error("event queue %s: cannot open (%s); deleting the reserve %s to make room",
                  path, exc, reserve)
        reserve.unlink()
        return _open(path, schema)


def _open(path: Path, schema: str) -> sqlite3.Connection:
    db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")
        row = db.execute("PRAGMA quick_check").fetchone()
        if row is None or row[0] != "ok":
            raise sqlite3.DatabaseError(f"quick_check: {row}")
        db.executescript(schema)
        add_queue_clock_column(db)
    except sqlite3.DatabaseError:
        db.close()
        raise
    return db


def _move_aside(path: Path, aside: Path, set_aside: list[Path]) -> None:
    try:
        path.rename(aside)
    except OSError as exc:
        raise JournalError(f"cannot move corrupt queue {path} aside: {exc}") from exc
    set_aside.append(aside)
    for suffix in ("-wal", "-shm"):  # stale journals belong to the old file
        side = path.with_name(path.name + suffix)
        if side.exists():
            side.rename(aside.with_name(aside.name + suffix))


def _is_corrupt(exc: sqlite3.DatabaseError) -> bool:
    """Damage in the file (or our quick_check said so), not a full disk or a permission."""
    code = getattr(exc, "sqlite_errorcode", None)
    return code is None or code & 0xFF in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)
