"""Write a newly issued secret to a file only its owner can read, never over an existing file.

The file is reserved (created empty, mode 0600, ``O_CREAT | O_EXCL``) *before* the key is
created, so a path that exists or cannot be written is refused while nothing has happened yet; the
secret is written once the key exists. Used by ``keys create`` (and by a later ``keys rotate``).
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType
from typing import Any

from .._secret import SecretStr
from ..errors import ValidationError
from ._output import to_builtins

#: Owner read/write, nobody else.
SECRET_FILE_MODE = 0o600


class SecretFile:
    """A file reserved for one secret.

    Parameters
    ----------
    path : str or Path
        Where to write. Must not exist.
    option : str
        The option that named the path, for error messages.

    Notes
    -----
    Use as a context manager: a reservation left without ``write()`` (the key could not be
    created) is removed on exit, so a failed command leaves no empty file behind. The secret is
    written without a trailing newline, exactly as issued.
    """

    def __init__(self, path: str | os.PathLike[str], *, option: str = "--secret-file") -> None:
        self.path = Path(path)
        self._option = option
        self._fd: int | None = None
        self._written = False

    def reserve(self) -> SecretFile:
        """Create the file empty with mode 0600; refuse one that exists."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        try:
            self._fd = os.open(self.path, flags, SECRET_FILE_MODE)
        except FileExistsError:
            raise ValidationError(
                self._option, f"{self.path} exists; it is never overwritten: give a new path"
            ) from None
        except OSError as exc:
            raise ValidationError(
                self._option, f"cannot create {self.path}: {exc.strerror}"
            ) from None
        os.fchmod(self._fd, SECRET_FILE_MODE)  # the umask may have taken bits away, never added
        return self

    def write(self, secret: SecretStr | str) -> None:
        """Write the secret and close the file."""
        if self._fd is None:
            raise RuntimeError("reserve() the file first")
        value = secret.get_secret_value() if isinstance(secret, SecretStr) else secret
        try:
            os.write(self._fd, value.encode())
            os.fsync(self._fd)
        finally:
            os.close(self._fd)
            self._fd = None
        self._written = True

    def discard(self) -> None:
        """Remove a reservation that holds no secret."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        if not self._written:
            self.path.unlink(missing_ok=True)

    def __enter__(self) -> SecretFile:
        return self.reserve()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.discard()


def write_secret_file(
    path: str | os.PathLike[str], secret: SecretStr | str, *, option: str = "--secret-file"
) -> Path:
    """Write ``secret`` to a new file at ``path`` with mode 0600 (refusing an existing file)."""
    with SecretFile(path, option=option) as reserved:
        reserved.write(secret)
    return reserved.path


class SecretDelivery:
    """Where a command puts the one-time secret of a key it creates: a file, stdout, or both.

    Built from ``--secret-file`` and ``--print-secret`` before anything is sent; with neither, the
    command is refused (the secret could never be read again). Use as a context manager around
    the creating call: the file is reserved on entry and removed again if no secret arrived.
    """

    def __init__(self, secret_file: str | None, print_secret: bool) -> None:
        if not secret_file and not print_secret:
            raise ValidationError(
                "--secret-file",
                "give --secret-file PATH (written with mode 0600) or --print-secret: "
                "the secret is returned only once",
            )
        self.print_secret = print_secret
        self.file = SecretFile(secret_file) if secret_file else None

    def __enter__(self) -> SecretDelivery:
        if self.file is not None:
            self.file.reserve()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.file is not None:
            self.file.discard()

    def as_json(self, created: Any, secret_field: str) -> dict[str, Any]:
        """``created`` as JSON data for ``--json``: its secret (``secret_field``) only with
        ``--print-secret``, and the path of the secret file when there is one."""
        data: dict[str, Any] = to_builtins(created, reveal_secrets=self.print_secret)
        if not self.print_secret:
            data.pop(secret_field, None)
        if self.file is not None:
            data["secret_file"] = str(self.file.path)
        return data

    def keep(self, secret: SecretStr) -> str:
        """Write the secret to the file (if any); return the note for stderr."""
        where = []
        if self.file is not None:
            self.file.write(secret)
            where.append(f"written to {self.file.path} (mode 0600)")
        if self.print_secret:
            where.append("printed above")
        return f"note: the secret is {' and '.join(where)}; it cannot be retrieved again"
