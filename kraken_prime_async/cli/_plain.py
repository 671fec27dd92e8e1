"""The command line without rich (the ``cli`` extra not installed): ``kraken-prime --version``
and ``kraken-prime sandbox`` run with plain output; every other command says which extra to
install. Nothing here imports rich, and the sandbox command is the same ``_sandbox`` module the
full command line runs."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from typing import Final

from .._constants import LOGGER_NAME
from .._version import __version__
from . import _sandbox

PROG: Final = "kraken-prime"
EXTRA_HINT: Final = "pip install 'kraken-prime-async[cli]'"
#: The global options that take a value (``--name VALUE``), so the command word can be found.
_VALUED: Final = frozenset({"--base-url", "--timeout", "--rate-limit", "--token"})
#: Exit codes of the full command line (``docs/cli.md``).
_EXIT_BAD_INPUT: Final = 2
_EXIT_INTERRUPTED: Final = 130


def command_of(argv: Sequence[str]) -> str | None:
    """The command word of ``argv`` (global options may come before it), or ``None``."""
    words = iter(argv)
    for word in words:
        if word == "--":
            return next(words, None)
        if not word.startswith("-"):
            return word
        if word in _VALUED:
            next(words, None)
    return None


def run(argv: Sequence[str], install_hint: str) -> int:
    """Run what needs no rich; otherwise print ``install_hint`` and return 2."""
    command = command_of(argv)
    options = list(argv[: list(argv).index("--")]) if "--" in argv else list(argv)
    if command is None and "--version" in options:
        print(f"{PROG} {__version__}")
        return 0
    if command == "sandbox":
        return _serve(argv)
    if command is None and ({"-h", "--help"} & set(options) or not options):
        print(
            f"usage: {PROG} [--version] sandbox [options]\n\n"
            f"Without the cli extra only `{PROG} --version` and `{PROG} sandbox` run "
            f"(`{PROG} sandbox --help` for its options). For every other command: "
            f"{EXTRA_HINT}"
        )
        return 0 if options else _EXIT_BAD_INPUT
    print(install_hint, file=sys.stderr)
    return _EXIT_BAD_INPUT


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=f"{PROG} sandbox", allow_abbrev=False)
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.add_argument(
        "-v", "--verbose", action="count", default=0, help="log the SDK's records to stderr"
    )
    for name in sorted(_VALUED):  # the full command line's globals: accepted, unused here
        parser.add_argument(name, help=argparse.SUPPRESS)
    _sandbox.configure(parser)
    return parser


def _serve(argv: Sequence[str]) -> int:
    words = list(argv)
    words.remove("sandbox")
    try:
        args = _parser().parse_args(words)
    except SystemExit as exc:  # --help, or argparse's complaint (already printed)
        return exc.code if isinstance(exc.code, int) else _EXIT_BAD_INPUT
    if args.verbose:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
        logger = logging.getLogger(LOGGER_NAME)
        logger.addHandler(handler)
        logger.setLevel(logging.INFO if args.verbose == 1 else logging.DEBUG)
    try:
        code: int = asyncio.run(_sandbox.run(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return _EXIT_INTERRUPTED
    return code
