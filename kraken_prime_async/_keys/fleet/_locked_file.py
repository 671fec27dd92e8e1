"""An ``flock``-locked file, the primitive every lock of ``FileLockFleet`` is made of."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from ...errors import CoordinationError

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]


class LockedFile:
    """One small file, opened once per process and used under an exclusive ``flock``."""

    __slots__ = ("_fd", "_lock", "_pid", "path")

    def __init__(self, path: str | os.PathLike[str]) -> None:
        if fcntl is None:  # pragma: no cover - not POSIX
            raise CoordinationError("file locks need a POSIX system", store=os.fspath(path))
        self.path = os.fspath(path)
        self._fd = -1
        self._pid = 0
        self._lock = threading.Lock()  # tasks on other threads' loops may share the object

    def fd(self) -> int:
        # A forked child shares the parent's open file description, and with it the parent's
        # flock: reopen so parent and child exclude each other.
        if self._fd < 0 or self._pid != os.getpid():
            try:
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError as exc:
                raise CoordinationError(
                    f"cannot open {self.path} ({type(exc).__name__}: {exc.strerror})",
                    store=self.path,
                ) from None
            self._pid = os.getpid()
        return self._fd

    @contextmanager
    def locked(self) -> Iterator[int]:
        """Hold the file's exclusive lock; yield its descriptor."""
        with self._lock:
            fd = self.fd()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield fd
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)

    def try_lock(self) -> bool:
        """Take the lock without waiting; ``False`` when another holder has it."""
        try:
            fcntl.flock(self.fd(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True

    def unlock(self) -> None:
        fcntl.flock(self.fd(), fcntl.LOCK_UN)

    def close(self) -> None:
        if self._fd >= 0 and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = -1
