"""Parse, run one command, and turn what went wrong into a message and an exit code."""

from __future__ import annotations

import argparse
import asyncio
import inspect
import sys
from collections.abc import Callable, Sequence
from typing import Final

from ..errors import KrakenPrimeError
from ._console import setup_logging
from ._errors import UsageError, describe
from ._parser import apply_defaults, build_parser

#: Options whose value may start with ``-`` (a random OAuth token may): the word after them is
#: their value, whatever it looks like (argparse would read ``--token -x...`` as an option).
VALUE_OPTIONS: Final = frozenset({"--token"})


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
    argv = join_values(sys.argv[1:] if argv is None else argv)
    as_json = wants_json(argv)
    args: argparse.Namespace | None = None
    undo: Callable[[], None] | None = None
    try:
        args = apply_defaults(build_parser().parse_args(argv))
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
