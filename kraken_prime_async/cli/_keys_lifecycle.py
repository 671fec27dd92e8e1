"""``kraken-prime keys rotate`` and ``kraken-prime keys audit``.

``configure(keys)`` adds both to the ``keys`` sub-command group. Credentials and settings come
from the environment through ``PrimeClient.from_env`` (the same variables as the library; see
``kraken_prime_async._config``); ``--base-url`` and ``--timeout`` override it.

Merge note: :class:`SecretFile` is this module's own minimal "new 0600 file (O_CREAT|O_EXCL)"
writer; replace it with the CLI's shared one (``keys create --secret-file``) when both land.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Final

from .._client import PrimeClient
from ..errors import KeyRotationError, ValidationError
from ..models import CreatedApiKey
from ._output import emit_json, emit_table, to_builtins

__all__ = ["SecretFile", "configure", "keys_audit", "keys_rotate"]

#: Exit code of ``keys audit`` when it found something (0: clean).
EXIT_FINDINGS: Final = 4
FINDING_COLUMNS: Final = ("severity", "code", "user_id", "key_id", "message")
NEW_KEY_COLUMNS: Final = ("id", "api_key", "user_id", "whitelisted_ips")
_DAY: Final = 86400.0
_OPEN_FLAGS: Final = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)


class SecretFile:
    """A file for one secret: created new with mode 0600 before anything is changed at Kraken
    (so a path that exists or cannot be created stops the command first), written once.

    Raises
    ------
    ValidationError
        Naming ``--secret-file``: the path exists (it is never overwritten) or cannot be created.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self._fd: int | None = os.open(path, _OPEN_FLAGS, 0o600)
        except FileExistsError:
            raise ValidationError(
                "--secret-file", f"{path} exists; it is never overwritten"
            ) from None
        except OSError as exc:
            raise ValidationError(
                "--secret-file", f"cannot create {path}: {exc.strerror}"
            ) from None

    def write(self, secret: str) -> None:
        """Write ``secret`` and a newline, flush it to disk and close the file."""
        fd, self._fd = self._fd, None
        if fd is None:
            raise RuntimeError("the secret file was already written or discarded")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secret + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def discard(self) -> None:
        """Remove the still-empty file (the command failed before there was a secret)."""
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
            os.unlink(self.path)


def configure(keys: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``rotate`` and ``audit`` to the ``keys`` command group."""
    # ``--json`` after the command too; SUPPRESS keeps a top-level ``--json`` when it is absent.
    json_flag = argparse.ArgumentParser(add_help=False)
    json_flag.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="machine-readable output"
    )
    rotate = keys.add_parser(
        "rotate",
        parents=[json_flag],
        help="replace a key: create, verify, copy the allow-list, delete the old one",
        description=(
            "The new secret goes to --secret-file (a new file, mode 0600) and/or, with "
            "--print-secret, to stdout; one of them is required."
        ),
    )
    rotate.add_argument("user_id")
    rotate.add_argument("key_id")
    rotate.add_argument("--secret-file", metavar="PATH", help="new file for the new secret")
    rotate.add_argument("--print-secret", action="store_true", help="print the new secret")
    rotate.add_argument("--ip", action="append", help="allow-list of the new key (default: copy)")
    rotate.add_argument("--no-verify", action="store_true", help="skip the signed test read")
    rotate.set_defaults(run=keys_rotate)

    audit = keys.add_parser(
        "audit", parents=[json_flag], help="report risky keys (exit 4 when anything is found)"
    )
    audit.add_argument("user_ids", nargs="*", metavar="USER_ID", help="default: every user")
    audit.add_argument("--stale-days", type=float, help="report keys not updated for this long")
    audit.add_argument(
        "--updated-at-unit",
        choices=("s", "ms"),
        help="unit of updated_at (needed with --stale-days)",
    )
    audit.set_defaults(run=keys_audit)


def _client(args: argparse.Namespace) -> PrimeClient:
    overrides: dict[str, Any] = {"timeout": args.timeout}
    if args.base_url:
        overrides["base_url"] = args.base_url
    return PrimeClient.from_env(**overrides)


def _save(key: CreatedApiKey, target: SecretFile | None) -> None:
    """Write the new secret to its file first, before anything else can fail."""
    if target is not None:
        target.write(key.api_secret.get_secret_value())
        print(f"the new secret is in {target.path} (mode 0600)", file=sys.stderr)


def _print_secret(key: CreatedApiKey, args: argparse.Namespace) -> None:
    if args.print_secret and not args.json:
        print(f"api_secret: {key.api_secret.get_secret_value()}")


async def keys_rotate(args: argparse.Namespace) -> int:
    """``keys rotate USER_ID KEY_ID``: exit 0 on success."""
    if not args.secret_file and not args.print_secret:
        raise ValidationError(
            "--secret-file", "give --secret-file PATH or --print-secret: the secret is shown once"
        )
    client = _client(args)
    target = SecretFile(args.secret_file) if args.secret_file else None
    try:
        async with client:
            key = await client.api_user_keys.rotate(
                args.user_id, args.key_id, whitelisted_ips=args.ip, verify=not args.no_verify
            )
    except KeyRotationError as exc:
        if exc.new_key is not None:  # live, maybe the only key now: its secret must not be lost
            _save(exc.new_key, target)
            if args.print_secret:
                print(f"api_secret: {exc.new_key.api_secret.get_secret_value()}")
            print(f"the new key {exc.new_key.id} is live: keep or delete it", file=sys.stderr)
        elif target is not None:
            target.discard()
        raise
    except BaseException:
        if target is not None:
            target.discard()
        raise
    _save(key, target)
    if args.json:
        emit_json(key, reveal_secrets=args.print_secret)
    else:
        emit_table([to_builtins(key)], NEW_KEY_COLUMNS)
    _print_secret(key, args)
    print(f"key {args.key_id} was deleted; switch services to {key.id}", file=sys.stderr)
    return 0


async def keys_audit(args: argparse.Namespace) -> int:
    """``keys audit [USER_ID ...]``: exit 0 when clean, 4 with findings."""
    if args.stale_days is not None and args.updated_at_unit is None:
        raise ValidationError("--updated-at-unit", "needed with --stale-days (s or ms)")
    stale_after = None if args.stale_days is None else args.stale_days * _DAY
    async with _client(args) as client:
        report = await client.api_user_keys.audit(
            args.user_ids or None, stale_after=stale_after, updated_at_unit=args.updated_at_unit
        )
    if args.json:
        emit_json(report)
    else:
        emit_table([to_builtins(f) for f in report.findings], FINDING_COLUMNS)
    print(
        f"{len(report.findings)} findings; {report.keys_checked} keys of "
        f"{report.users_checked} users checked",
        file=sys.stderr,
    )
    return 0 if report.clean else EXIT_FINDINGS
