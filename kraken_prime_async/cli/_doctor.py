"""``kraken-prime doctor``: check the setup, one line per check with ✓/✗ and the fix.

Checks, in order: the base URL answers (and over verified TLS, or plain HTTP only on loopback),
the clock against Kraken's public ``GET /0/public/Time``, the credentials (a signed read), what the
key may read (reads only: doctor never writes), the nonce unit and nonce rejections seen, and the
rate-limit setting. Exit code 0 when every check passes, 4 otherwise.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Final

import aiohttp
import msgspec
from rich.table import Table
from rich.text import Text
from yarl import URL

from .._client import PrimeClient
from .._config import ENV_NONCE_WINDOW, is_loopback
from .._constants import DEFAULT_NONCE_UNIT
from ..errors import AuthenticationError, KrakenPrimeError, PermissionDeniedError, ValidationError
from ._args import leaf
from ._config import (
    ENV_BASE_URL,
    ENV_KEY,
    ENV_RATE_LIMIT,
    ENV_SECRET,
    base_url,
    client_from,
    rate_limit_name,
)
from ._console import show
from ._errors import EXIT_INCOMPLETE, EXIT_OK
from ._output import emit_json

if TYPE_CHECKING:
    from ._args import Subparsers

TIME_PATH: Final = "/0/public/Time"
#: Clock difference (seconds) above which doctor fails: Kraken's ``Time`` has 1 s resolution.
MAX_SKEW: Final = 5.0
URL_FIX: Final = f"check --base-url or {ENV_BASE_URL} and the network"


def register(commands: Subparsers) -> None:
    """``doctor``."""
    checks = "check the setup: URL, clock, credentials, permissions"
    leaf(commands, "doctor", checks, signs=True).set_defaults(run=doctor)


@dataclasses.dataclass(frozen=True)
class Check:
    """One line of the report."""

    name: str
    ok: bool
    detail: str
    fix: str | None = None


class _Time(msgspec.Struct):
    unixtime: int


class _TimeAnswer(msgspec.Struct):
    error: list[str] = []
    result: _Time | None = None


def transport_check(url: str, status: int, elapsed: float) -> Check:
    """The base URL answered: judge its scheme."""
    parsed = URL(url)
    answered = f"{url} answered HTTP {status} in {elapsed * 1000:.0f} ms"
    if parsed.scheme == "https":
        return Check("base URL", True, f"{answered}; TLS certificate verified")
    if parsed.host is not None and is_loopback(parsed.host.strip("[]")):
        return Check("base URL", True, f"{answered}; plain HTTP on loopback (a local sandbox)")
    return Check(
        "base URL",
        False,
        f"{answered} over plain HTTP: signed requests would cross the network unencrypted",
        f"use an https:// URL ({URL_FIX})",
    )


async def probe_time(
    url: str, timeout: float, clock: Callable[[], float]
) -> tuple[Check, float | None]:
    """``GET /0/public/Time``: the base-URL check and the server's clock (or ``None``)."""
    started = time.perf_counter()
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
            session.get(url + TIME_PATH, allow_redirects=False) as response,
        ):
            body = await response.read()
            sent_at = clock()
            status = response.status
    except aiohttp.ClientSSLError as exc:
        fix = "check the host name and the system's CA certificates"
        return Check("base URL", False, f"TLS to {url} failed ({type(exc).__name__})", fix), None
    except (aiohttp.ClientError, TimeoutError) as exc:
        cause = getattr(exc, "os_error", None)
        errno = cause.errno if isinstance(cause, OSError) else None
        reason = os.strerror(errno).lower() if errno else type(exc).__name__
        detail = f"could not reach {url} ({reason})"
        return Check("base URL", False, detail, URL_FIX), None
    check = transport_check(url, status, time.perf_counter() - started)
    try:
        answer = msgspec.json.decode(body, type=_TimeAnswer)
    except msgspec.DecodeError:
        answer = _TimeAnswer()
    server = float(answer.result.unixtime) if status == 200 and answer.result else None
    return check, (None if server is None else server - sent_at)


def clock_check(skew: float | None, url: str) -> Check:
    """The local clock against Kraken's."""
    if skew is None:
        detail = f"{url}{TIME_PATH} gave no time"
        return Check("clock", False, detail, f"is the base URL Kraken's API? {URL_FIX}")
    direction = "ahead of" if skew < 0 else "behind"
    size = f"{abs(skew):.0f} s {direction} the server"
    if abs(skew) < 1:
        return Check("clock", True, "in step with the server (to the second it reports)")
    if abs(skew) <= MAX_SKEW:
        return Check("clock", True, f"{size}: within {MAX_SKEW:.0f} s")
    return Check(
        "clock",
        False,
        f"{size} (more than {MAX_SKEW:.0f} s): nonces and Throttled waits use this clock",
        "synchronise the clock (NTP: `timedatectl set-ntp true`)",
    )


async def _permitted(read: Callable[[], Awaitable[Any]]) -> bool:
    try:
        await read()
    except PermissionDeniedError:
        return False
    return True


async def probe_key(client: PrimeClient) -> tuple[Check, Check]:
    """A signed read for the credentials, then one read of each kind for the permissions."""
    allowed: list[str] = []
    denied: list[str] = []
    notes = ["writes are never probed (a Viewer cannot create batches or settle)"]
    try:
        users = await client.api_users.list()  # the signed read: raises if the key is refused
        allowed.append("users")
    except PermissionDeniedError:
        users = None
        denied.append("users")
    if users:
        first = users[0].id
        keys = await _permitted(lambda: client.api_user_keys.list(first))
        (allowed if keys else denied).append("keys")
    elif users is not None:
        notes.insert(0, "keys not tried (no API user yet)")
    batches = await _permitted(lambda: client.settlement.list_batches(limit=1))
    (allowed if batches else denied).append("settlement batches")
    credentials = Check(
        "credentials", True, f"a signed read was accepted ({ENV_KEY} and {ENV_SECRET})"
    )
    parts = [f"reads {', '.join(allowed) or 'nothing'}"]
    if denied:
        parts.append(f"denied {', '.join(denied)}")
    detail = "; ".join(parts + notes)
    if not allowed:
        fix = "give the key's user a role (kraken-prime users set-role USER_ID --role Viewer)"
        return credentials, Check("permissions", False, detail, fix)
    return credentials, Check("permissions", True, detail)


def credential_failure(exc: KrakenPrimeError) -> Check:
    """The credentials check when the signed read failed."""
    said = " ".join(getattr(exc, "errors", ()) or (str(exc),))
    if isinstance(exc, ValidationError):
        return Check("credentials", False, str(exc), f"set {exc.field} correctly")
    if isinstance(exc, AuthenticationError) and "Invalid signature" in said:
        fix = f"check {ENV_SECRET}: it must be the secret issued with {ENV_KEY}"
        return Check("credentials", False, said, fix)
    if isinstance(exc, AuthenticationError):
        return Check("credentials", False, said, f"check {ENV_KEY} and {ENV_SECRET}")
    return Check("credentials", False, f"{type(exc).__name__}: {said}", URL_FIX)


def window_note() -> str:
    """The key's nonce window as the client uses it (``KRAKEN_PRIME_NONCE_WINDOW``, default 0),
    and what it means for concurrency."""
    window = os.environ.get(ENV_NONCE_WINDOW, "").strip() or "0"
    if window == "0":
        return (
            f"window 0 ({ENV_NONCE_WINDOW}): one request of the key on the wire at a time, so "
            "concurrent calls and settle_batch legs queue; set a nonce window on the key and "
            f"{ENV_NONCE_WINDOW} to let them overlap"
        )
    return f"window {window} {DEFAULT_NONCE_UNIT} ({ENV_NONCE_WINDOW}): requests may overlap"


def nonce_check(client: PrimeClient | None) -> Check:
    """The nonce unit and window, and the nonce rejections this run saw."""
    if client is None:
        detail = f"unit {DEFAULT_NONCE_UNIT}; {window_note()}; no signed request was made"
        return Check("nonces", True, detail)
    stats = client.stats
    requests = "request" if stats.attempts == 1 else "requests"
    detail = (
        f"unit {DEFAULT_NONCE_UNIT}; {window_note()}; {stats.nonce_rejections} nonce "
        f"rejections in this run's {stats.attempts} signed {requests}"
    )
    if stats.nonce_rejections:
        fix = (
            "another program uses this key with a larger nonce unit or overlapping requests: "
            "give it its own key, or set a nonce window on the key"
        )
        return Check("nonces", False, detail, fix)
    return Check("nonces", True, detail)


def rate_limit_check(args: argparse.Namespace) -> Check:
    """The rate-limit setting."""
    try:
        name = rate_limit_name(args)
    except ValidationError as exc:
        return Check("rate limit", False, str(exc), f"fix {exc.field}")
    meaning = {
        "auto": (
            "no pacing until Kraken reports a limit, then paced as the fastest tier that "
            "explains it"
        ),
        "off": "no client-side pacing",
    }.get(name, f"paced as the {name} tier from the first call")
    fix = f"--rate-limit or {ENV_RATE_LIMIT}: your account's tier paces from the first call"
    return Check("rate limit", True, f"{name}: {meaning}", fix if name == "auto" else None)


async def run_checks(
    args: argparse.Namespace, *, clock: Callable[[], float] = time.time
) -> list[Check]:
    """Every check, in order; network checks after a failed base URL are reported failed."""
    url = base_url(args)
    reach, skew = await probe_time(url, args.timeout, clock)
    checks = [reach]
    if not reach.ok and skew is None:
        skipped = "not checked: the base URL did not answer"
        checks += [Check(name, False, skipped) for name in ("clock", "credentials", "permissions")]
        return [*checks, nonce_check(None), rate_limit_check(args)]
    checks.append(clock_check(skew, url))
    client: PrimeClient | None = None
    try:
        client = client_from(args)
        async with client:
            checks += await probe_key(client)
    except KrakenPrimeError as exc:
        checks += [credential_failure(exc), Check("permissions", False, "not checked")]
    return [*checks, nonce_check(client), rate_limit_check(args)]


def render(checks: list[Check]) -> None:
    """One line per check on stdout (wrapped under its own column on a narrow terminal)."""
    grid = Table.grid(padding=(0, 1))
    width = max(len(check.name) for check in checks) + 1
    grid.add_column(no_wrap=True)
    grid.add_column(no_wrap=True)
    grid.add_column()
    for check in checks:
        mark = Text("✓", style="green") if check.ok else Text("✗", style="bold red")
        detail = Text(check.detail)
        if check.fix:
            detail.append(f" ({'tip' if check.ok else 'fix'}: {check.fix})")
        grid.add_row(mark, Text(check.name.ljust(width)), detail)
    show(grid)


async def doctor(args: argparse.Namespace) -> int:
    checks = await run_checks(args)
    ok = all(check.ok for check in checks)
    if args.json:
        emit_json({"ok": ok, "checks": [dataclasses.asdict(c) for c in checks]})
    else:
        render(checks)
    return EXIT_OK if ok else EXIT_INCOMPLETE
