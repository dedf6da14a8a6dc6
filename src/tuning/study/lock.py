"""One ``run`` per study at a time: an flock on ``W/study.lock`` plus pid, host and heartbeat.

The kernel drops an flock when its process dies, ``kill -9`` included, so a crashed run never
leaves the study locked. The file also says who holds it (JSON: pid, host, started, heartbeat,
executor, workers); a heartbeat thread rewrites it every HEARTBEAT_S seconds. Where a shared
filesystem does not carry flocks between machines, a heartbeat newer than STALE_S seconds from
another host still refuses the second run; an older one is taken over.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import threading
import time
from pathlib import Path

from tuning.errors import InputError

HEARTBEAT_S = 30.0
STALE_S = 300.0


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return {}


def holder(path: Path) -> dict | None:
    """Who runs the study now (the lock file's contents), or None when no run holds it."""
    if not path.is_file():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return _read(path) or {"pid": "?", "host": "?"}
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        info = _read(path)
        fresh = info.get("running") and info.get("host") != socket.gethostname() \
            and time.time() - info.get("heartbeat", 0) < STALE_S
        return info if fresh else None
    finally:
        os.close(fd)


class StudyLock:
    """``with StudyLock(path, **info):`` holds the study for one run, or raises InputError."""

    def __init__(self, path: Path, study_file: str, **info):
        self.path, self.study_file, self.info = Path(path), study_file, info
        self.fd: int | None = None
        self._stop = threading.Event()

    def _write(self) -> None:
        data = json.dumps({**self.info, "heartbeat": time.time(), "running": True}).encode()
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, data, 0)

    def _refuse(self, info: dict) -> InputError:
        since = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(info.get("started", 0)))
        return InputError(f"{self.study_file}: already being run by pid {info.get('pid', '?')} on "
                          f"{info.get('host', '?')} since {since}; wait for it to finish (tuning study status) "
                          f"or stop that process")

    def __enter__(self) -> "StudyLock":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise self._refuse(_read(self.path)) from None
        other = _read(self.path)
        if other.get("running") and other.get("host") != socket.gethostname() \
                and time.time() - other.get("heartbeat", 0) < STALE_S:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            os.close(self.fd)
            raise self._refuse(other)
        self.info = {"pid": os.getpid(), "host": socket.gethostname(), "started": time.time(), **self.info}
        self._write()
        self._thread = threading.Thread(target=self._beat, daemon=True)
        self._thread.start()
        return self

    def _beat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            self._write()

    def __exit__(self, *exc) -> None:
        self._stop.set()
        data = json.dumps({**self.info, "heartbeat": time.time(), "running": False}).encode()
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, data, 0)
        fcntl.flock(self.fd, fcntl.LOCK_UN)
        os.close(self.fd)
