"""``kraken-prime sandbox``: serve the embedded sandbox for any test suite, in any language.

It prints the ``export`` lines for ``KRAKEN_PRIME_BASE_URL``, ``KRAKEN_PRIME_API_KEY``,
``KRAKEN_PRIME_API_SECRET``, ``KRAKEN_OAUTH_TOKEN`` and ``KRAKEN_SANDBOX_ADMIN_TOKEN``, a comment
line per user a scenario created, then one line per request (``--json``: one JSON object per
line). Options given on the command line win over the ``--scenario`` file; ``--trade`` and
``--fault`` add to its trades and faults.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import sys
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

import msgspec

from ._args import leaf

if TYPE_CHECKING:  # the sandbox (aiohttp.web) is imported only when the command runs
    from ..sandbox import Announcement, RequestRecord, Scenario
    from ..sandbox._scenario import CreatedUser

if TYPE_CHECKING:
    from ._args import Subparsers

__all__ = ["configure", "register", "run"]

DEFAULT_HOST: Final = "127.0.0.1"
TIER_NAMES: Final = ("starter", "intermediate", "pro")
#: ``sandbox.FAULT_KINDS``, spelled out so that ``--help`` does not import the server.
FAULT_KIND_NAMES: Final = (
    "http_500",
    "http_502_html",
    "http_503_html",
    "delay",
    "delay_before",
    "delay_after",
    "drop_before",
    "drop_after",
    "malformed_json",
    "error",
    "throttled",
)
_FOREVER: Final = ("*", "forever")


def _trade(text: str) -> tuple[str, str, str]:
    """``ASSET:AMOUNT[:ASSET_KIND]``."""
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise argparse.ArgumentTypeError(f"{text!r}: expected ASSET:AMOUNT[:ASSET_KIND]")
    return parts[0], parts[1], parts[2] if len(parts) == 3 else "currency"


def _fault(text: str) -> dict[str, Any]:
    """``OPERATION:KIND[:TIMES[:ARG]]``; ``*`` for any operation or unlimited times.

    ``ARG`` is ``seconds`` for the delays and ``throttled``, the error string for ``error`` (it may
    itself contain colons).
    """
    operation, _, rest = text.partition(":")
    kind, _, rest = rest.partition(":")
    times_text, _, arg = rest.partition(":")
    if not operation or not kind:
        raise argparse.ArgumentTypeError(f"{text!r}: expected OPERATION:KIND[:TIMES[:ARG]]")
    fault: dict[str, Any] = {"operation": None if operation == "*" else operation, "kind": kind}
    if times_text:
        if times_text in _FOREVER:
            fault["times"] = None
        elif times_text.isdigit() and int(times_text) > 0:
            fault["times"] = int(times_text)
        else:
            raise argparse.ArgumentTypeError(f"{text!r}: TIMES must be a positive integer or *")
    if arg and kind == "error":
        fault["message"] = arg
    elif arg:
        try:
            fault["seconds"] = float(arg)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r}: ARG must be seconds") from None
    return fault


def _latency(text: str) -> tuple[float, float]:
    """``LOW:HIGH`` in seconds."""
    low, _, high = text.partition(":")
    try:
        pair = (float(low), float(high or low))
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: expected LOW:HIGH in seconds") from None
    if not 0 <= pair[0] <= pair[1]:
        raise argparse.ArgumentTypeError(f"{text!r}: need 0 <= LOW <= HIGH")
    return pair


def register(commands: Subparsers) -> None:
    """``sandbox``: its options (``configure()``) and handler (``run()``)."""
    configure(leaf(commands, "sandbox", "serve the embedded sandbox until Ctrl-C"))


def configure(parser: argparse.ArgumentParser) -> None:
    """Add the ``sandbox`` options to ``parser`` and set ``run`` as its handler."""
    parser.description = (
        "Serve the embedded Kraken Prime sandbox until Ctrl-C. Prints export lines for "
        "KRAKEN_PRIME_BASE_URL, KRAKEN_PRIME_API_KEY, KRAKEN_PRIME_API_SECRET, KRAKEN_OAUTH_TOKEN "
        "and KRAKEN_SANDBOX_ADMIN_TOKEN, then one line per request."
    )
    parser.epilog = (
        f"Fault kinds: {', '.join(FAULT_KIND_NAMES)}. Admin API under /_sandbox/ with "
        "'Authorization: Bearer $KRAKEN_SANDBOX_ADMIN_TOKEN'. "
        "Guide: docs/testing-with-the-sandbox.md."
    )
    parser.add_argument("--host", help=f"interface to bind (default {DEFAULT_HOST})")
    parser.add_argument("--port", type=int, help="TCP port, 0-65535 (default 0: any free port)")
    parser.add_argument(
        "--trade",
        action="append",
        type=_trade,
        default=[],
        metavar="ASSET:AMOUNT[:KIND]",
        help="book a trade (repeatable), e.g. BTC:1.5 or ETH:-3 or AAPLx:2:tokenized_equity",
    )
    limits = parser.add_mutually_exclusive_group()
    limits.add_argument("--tier", choices=TIER_NAMES, help="call-counter tier")
    limits.add_argument("--no-rate-limit", action="store_true", help="turn the call counter off")
    parser.add_argument("--nonce-window", type=int, metavar="N", help="nonce window of keys")
    parser.add_argument("--latency", type=_latency, metavar="LOW:HIGH", help="seconds per request")
    parser.add_argument(
        "--auto-confirm", type=float, metavar="SECONDS", help="batches confirm themselves"
    )
    parser.add_argument("--lockout-after", type=int, metavar="N", help="failures before lockout")
    parser.add_argument(
        "--fault",
        action="append",
        type=_fault,
        default=[],
        metavar="OP:KIND[:TIMES[:ARG]]",
        help="queue a fault (repeatable); OP or TIMES '*' for any/unlimited; ARG: seconds or "
        "the error string",
    )
    parser.add_argument("--seed", type=int, help="reproducible ids and latency draws")
    parser.add_argument("--scenario", metavar="FILE", help="TOML scenario file (see the docs)")
    parser.set_defaults(run=run)


def scenario_from(args: argparse.Namespace) -> Scenario:
    """The ``--scenario`` file (or an empty one) with the command-line options laid over it."""
    from ..sandbox import Scenario, load_scenario

    scenario = load_scenario(args.scenario) if args.scenario else Scenario()
    given = {
        "host": args.host,
        "port": args.port,
        "tier": args.tier,
        "rate_limit": False if args.no_rate_limit else None,
        "nonce_window": args.nonce_window,
        "latency": args.latency,
        "auto_confirm_after": args.auto_confirm,
        "lockout_after": args.lockout_after,
        "seed": args.seed,
    }
    scenario.options.update({name: value for name, value in given.items() if value is not None})
    scenario.options.setdefault("host", DEFAULT_HOST)
    scenario.trades.extend(args.trade)
    scenario.faults.extend(args.fault)
    return scenario


def log_line(record: RequestRecord) -> str:
    """One human line per request: time, verb, operation, status, errors or ok, fault, key."""
    stamp = time.strftime("%H:%M:%S", time.localtime(record.timestamp))
    status = "dropped" if record.status is None else str(record.status)
    outcome = " ".join(record.errors) or ("ok" if record.ok else "-")
    extras = [f"fault={record.fault}"] if record.fault else []
    if record.key_fingerprint:
        extras.append(f"key={record.key_fingerprint}")
    if record.changed:
        extras.append("changed")
    line = f"{stamp} {record.http_method} {record.operation} {status} {outcome}"
    return " ".join([line, *extras])


def _printer(as_json: bool) -> Callable[[RequestRecord], None]:
    def show(record: RequestRecord) -> None:
        text = msgspec.json.encode(record.to_json()).decode() if as_json else log_line(record)
        with contextlib.suppress(OSError):  # stdout went away (a closed pipe): keep serving
            print(text, flush=True)

    return show


def _announce(announcement: Announcement, users: list[CreatedUser], as_json: bool) -> None:
    if as_json:
        listed = [
            {"name": u.name, "user_id": u.user_id, "keys": [k._asdict() for k in u.keys]}
            for u in users
        ]
        document = {"environment": announcement.environment(), "users": listed}
        print(msgspec.json.encode(document).decode(), flush=True)
        return
    for line in announcement.export_lines():
        print(line)
    for user in users:
        for key in user.keys:
            print(
                f"# user {user.name!r} {user.user_id}: key_id={key.key_id} "
                f"api_key={key.api_key} api_secret={key.api_secret}"
            )
    print("# serving until Ctrl-C; one line per request follows", flush=True)


async def run(args: argparse.Namespace) -> int:
    """Serve until interrupted; 2 on a bad scenario or option, 1 when the port cannot be bound."""
    from ..sandbox import PrimeSandbox, ScenarioError

    as_json = bool(getattr(args, "json", False))
    try:
        scenario = scenario_from(args)
        port = scenario.options.get("port", 0)
        if not 0 <= port <= 65535:
            raise ScenarioError(f"port {port} is out of range (0-65535)")
        sandbox: PrimeSandbox = scenario.build(on_request=_printer(as_json))
        users = scenario.apply(sandbox)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    host = scenario.options["host"]
    try:
        await sandbox.start()
    except OSError as exc:
        reason = os.strerror(exc.errno).lower() if exc.errno else str(exc) or type(exc).__name__
        print(f"error: cannot listen on {host}:{port}: {reason}", file=sys.stderr)
        return 1
    try:
        _announce(sandbox.announcement(), users, as_json)
        await asyncio.Event().wait()
    finally:
        await sandbox.close()
    return 0  # pragma: no cover - the wait above ends only by cancellation
