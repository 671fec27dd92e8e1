"""Parse, run one command, and turn what went wrong into a message and an exit code.

Each command group registers its own sub-parser (``register(commands)`` in its module);
``COMMANDS`` lists them in the order ``--help`` shows them. A new group is one module with a
``register`` function and one line here.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import inspect
import shlex
import sys
from collections.abc import Callable, Sequence
from types import ModuleType
from typing import Final

from .._version import __version__
from ..errors import KrakenPrimeError
from ._args import COMMON, Formatter, Parser, apply_defaults
from ._config import (
    ENV_BASE_URL,
    ENV_KEY,
    ENV_OAUTH_TOKEN,
    ENV_RATE_LIMIT,
    ENV_SECRET,
    ENV_SECRET_ENCODING,
    ENV_SECRET_FILE,
)
from ._console import setup_logging
from ._errors import UsageError, describe

#: The command groups' modules (in this package), in ``--help`` order; each has
#: ``register(commands)``.
COMMANDS: Final = (
    "_users",
    "_keys",
    "_batches",  # batches and settle
    "_fast_keys",
    "_journal",
    "_doctor",
    "_sandbox",
    "_demo",
)

EPILOG = f"""\
environment:
  {ENV_KEY}, {ENV_SECRET}  the key and its secret
  {ENV_SECRET_FILE}   a file holding the secret instead
  {ENV_SECRET_ENCODING}  base64 (Kraken's) or raw (--secret-encoding)
  {ENV_BASE_URL}     API base URL (--base-url)
  {ENV_RATE_LIMIT}   rate-limit tier (--rate-limit)
  {ENV_OAUTH_TOKEN}        fast-keys: OAuth access token (--token)

exit codes:
  0    ok
  1    Kraken refused, or did not answer
  2    bad input or setup (the message names the option or variable)
  3    outcome unknown: read the state before trying again
  4    settlement incomplete, a doctor check failed, or keys audit found something
  130  interrupted (the message says whether the same command is safe to run again)

`kraken-prime COMMAND --help` describes each command.
"""

#: Options whose value may start with ``-`` (a random OAuth token may): the word after them is
#: their value, whatever it looks like (argparse would read ``--token -x...`` as an option).
VALUE_OPTIONS: Final = frozenset({"--token"})


def build_parser() -> argparse.ArgumentParser:
    """Every command with its arguments; ``args.run`` is the command to run."""
    parser = Parser(
        prog="kraken-prime",
        description="Kraken Prime REST from the command line: users, keys, settlement.",
        epilog=EPILOG,
        parents=[COMMON],
        formatter_class=Formatter,
    )
    parser.add_argument("--version", action="version", version=f"kraken-prime {__version__}")
    commands = parser.add_subparsers(dest="group", required=True, metavar="COMMAND")
    for name in COMMANDS:
        module: ModuleType = importlib.import_module(f".{name}", __package__)
        module.register(commands)
    return parser


def join_values(argv: Sequence[str]) -> list[str]:
    """``argv`` with ``--token VALUE`` spelled ``--token=VALUE`` (up to a ``--``)."""
    joined: list[str] = []
    words = iter(argv)
    for word in words:
        if word == "--":
            joined += [word, *words]
            break
        value = next(words, None) if word in VALUE_OPTIONS else None
        joined.append(word if value is None else f"{word}={value}")
    return joined


def wants_json(argv: Sequence[str]) -> bool:
    """Whether ``--json`` is on the line (before a ``--``), known even when parsing fails."""
    options = argv[: list(argv).index("--")] if "--" in argv else argv
    return "--json" in options


def run(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the exit code."""
    given = list(sys.argv[1:] if argv is None else argv)
    argv = join_values(given)
    as_json = wants_json(argv)
    args: argparse.Namespace | None = None
    undo: Callable[[], None] | None = None
    try:
        args = apply_defaults(build_parser().parse_args(argv))
        args.command_line = shlex.join(["kraken-prime", *given])
        undo = setup_logging(args.verbose)
        outcome = args.run(args)
        code: int = asyncio.run(outcome) if inspect.iscoroutine(outcome) else outcome
        return code
    except SystemExit as exc:  # --help and --version
        return exc.code if isinstance(exc.code, int) else 0
    except (KeyboardInterrupt, KrakenPrimeError, UsageError) as exc:
        failure = describe(exc, args)
        if failure is None:  # pragma: no cover - describe knows every KrakenPrimeError
            raise
        failure.emit(as_json=as_json)
        return failure.code
    finally:
        if undo is not None:
            undo()
