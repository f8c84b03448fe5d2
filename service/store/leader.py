"""One active scheduler per database: a lock file beside a SQLite database, an advisory lock on
PostgreSQL. The lock lives as long as the process (the file descriptor, the session), so a daemon
that dies, however it dies, frees it for the standby at once.

A PostgreSQL restart ends the session and the advisory lock with it: ``still_held`` then answers
False, and the holder calls ``try_acquire`` again (a new session) once the server is back. Database
errors surface as ``StoreError``.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import IO, Any

from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError

from service.settings import redact_url
from service.store.sql import store_error

#: the advisory lock key of the scheduler on PostgreSQL ("jinshan" in ASCII, as a bigint)
ADVISORY_KEY = 0x6A696E7368616E


class LeaderLock:
    """``try_acquire()`` → True when this process now holds the scheduler; ``release()`` frees it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._file: IO[str] | None = None
        self._conn: Any = None

    @property
    def held(self) -> bool:
        return self._file is not None or self._conn is not None

    def lock_path(self) -> Path:
        database = self.engine.url.database or ""
        if not database or database == ":memory:":
            return Path(f"/tmp/jinshan-{os.getuid()}-memory.lock")
        return Path(database + ".lock")

    def try_acquire(self) -> bool:
        if self.held:
            return True
        if self.engine.dialect.name == "sqlite":
            return self._flock()
        return self._advisory()

    def _flock(self) -> bool:
        path = self.lock_path()
        path.parent.mkdir(parents=True, exist_ok=True)
        fh = path.open("a+")
        try:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            fh.close()
            return False
        fh.seek(0)
        fh.truncate()
        fh.write(f"{os.getpid()}\n")
        fh.flush()
        self._file = fh
        return True

    def _advisory(self) -> bool:
        """Raises ``StoreError`` when the server cannot be reached."""
        try:
            conn = self.engine.connect()
        except SQLAlchemyError as exc:
            raise store_error(exc, f"database {redact_url(str(self.engine.url))} unreachable") from exc
        try:
            got = bool(conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": ADVISORY_KEY}).scalar())
            conn.commit()
        except SQLAlchemyError as exc:
            conn.close()
            raise store_error(exc, "scheduler lock") from exc
        if not got:
            conn.close()
            return False
        self._conn = conn
        return True

    def still_held(self) -> bool:
        """False when the session that holds the advisory lock was lost (the lock with it)."""
        if self._conn is None:
            return self._file is not None
        try:
            self._conn.execute(text("SELECT 1"))
            self._conn.commit()
        except SQLAlchemyError:
            with contextlib.suppress(SQLAlchemyError):
                self._conn.invalidate()  # the session is gone: never hand it back to the pool
                self._conn.close()
            self._conn = None
            return False
        return True

    def release(self) -> None:
        if self._file is not None:
            fcntl.flock(self._file.fileno(), fcntl.LOCK_UN)
            self._file.close()
            self._file = None
        if self._conn is not None:
            try:  # a lost session has freed the lock already: nothing to undo
                with contextlib.suppress(SQLAlchemyError):
                    self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": ADVISORY_KEY})
                    self._conn.commit()
            finally:
                with contextlib.suppress(SQLAlchemyError):
                    self._conn.close()
                self._conn = None
