"""The pieces every command's parser is built from: the global options, the help formatter,
and ``leaf``/``group`` (a command, a command group) that each module's ``register`` uses.

The global options (``--json``, ``--base-url``, ``--timeout``, ``--rate-limit``, ``-v``) are
accepted anywhere on the line, before or after the command. Parse errors raise
``UsageError`` instead of exiting, so ``_main.run`` reports them like any other error (as JSON
under ``--json``).
"""

from __future__ import annotations

import argparse
import enum
from typing import TYPE_CHECKING, Any, Final, NoReturn

from .._constants import DEFAULT_TIMEOUT
from ._config import (
    ENV_BASE_URL,
    ENV_RATE_LIMIT,
    ENV_SECRET_ENCODING,
    ENV_SOLE_WRITER,
    RATE_LIMIT_CHOICES,
)
from ._errors import UsageError

if TYPE_CHECKING:
    Subparsers = argparse._SubParsersAction[Any]


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Help with each option's default, when it has one worth showing."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        default = action.default
        shown = not (default is None or default is False or default in (argparse.SUPPRESS, []))
        if shown and action.option_strings and "%(default)" not in text:
            text += " (default: %(default)s)"
        return text


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` that raises ``UsageError`` instead of exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see `{self.prog} --help`)")


#: The global options' values when they are not given (they may be given anywhere on the line,
#: so their parsers leave them unset and ``apply_defaults()`` fills them in).
GLOBAL_DEFAULTS: Final[dict[str, Any]] = {
    "json": False,
    "base_url": None,
    "timeout": DEFAULT_TIMEOUT,
    "rate_limit": None,
    "sole_writer": False,
    "verbose": 0,
}


def _global_options() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False, argument_default=argparse.SUPPRESS)
    common = parser.add_argument_group("global options (before or after the command)")
    common.add_argument(
        "--json",
        action="store_true",
        help="print results as JSON (errors as JSON on stderr)",
    )
    common.add_argument(
        "--base-url", metavar="URL", help=f"API base URL (default: ${ENV_BASE_URL} or Kraken's)"
    )
    common.add_argument(
        "--timeout",
        type=float,
        metavar="SECONDS",
        help=f"budget of each attempt (default: {DEFAULT_TIMEOUT:g})",
    )
    common.add_argument(
        "--rate-limit",
        choices=RATE_LIMIT_CHOICES,
        help=f"client-side pacing: your account's tier, auto or off (default: ${ENV_RATE_LIMIT} "
        "or auto)",
    )
    common.add_argument(
        "--sole-writer",
        action="store_true",
        help="no writer outside this machine's clients creates on the account: a create whose "
        f"answer was lost may then claim the one new object it finds (default: ${ENV_SOLE_WRITER}"
        " or false; see docs/guarantees.md)",
    )
    common.add_argument(
        "-v",
        "--verbose",
        action="count",
        help="log the SDK's calls (-vv: debug; default: warnings only)",
    )
    return parser


def _credential_options() -> argparse.ArgumentParser:
    """Options of the commands that sign with an API key's secret."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument(
        "--secret-encoding",
        choices=("base64", "raw"),
        help=f"how the secret is written: base64 as Kraken issues it, or raw text "
        f"(default: ${ENV_SECRET_ENCODING} or base64)",
    )
    return parser


def apply_defaults(args: argparse.Namespace) -> argparse.Namespace:
    """Fill in the global options that were not given."""
    for name, value in GLOBAL_DEFAULTS.items():
        if not hasattr(args, name):
            setattr(args, name, value)
    return args


COMMON: Final = _global_options()
CREDENTIALS: Final = _credential_options()


def leaf(
    group: Subparsers, name: str, help: str, *, signs: bool = False, **kwargs: Any
) -> argparse.ArgumentParser:
    """A command: help text, the defaults formatter and the global options (``signs``: and the
    options of a command that signs with a secret)."""
    parents = [COMMON, *([CREDENTIALS] if signs else []), *kwargs.pop("parents", [])]
    parser: argparse.ArgumentParser = group.add_parser(
        name,
        help=help,
        description=help[:1].upper() + help[1:] + ".",
        parents=parents,
        formatter_class=Formatter,
        **kwargs,
    )
    return parser


def group(groups: Subparsers, name: str, help: str) -> Subparsers:
    """A command group (``users``, ``keys``, ...): its actions are added with ``leaf()``."""
    parser = groups.add_parser(
        name, help=help, description=help, parents=[COMMON], formatter_class=Formatter
    )
    actions: Subparsers = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    return actions


def values(kind: type[enum.Enum]) -> list[str]:
    """An enum's values, as ``choices``."""
    return [str(member.value) for member in kind]


def secret_options() -> argparse.ArgumentParser:
    """Where a new key's secret goes: ``--secret-file`` and ``--print-secret``."""
    options = argparse.ArgumentParser(add_help=False)
    options.add_argument(
        "--secret-file",
        metavar="PATH",
        help="write the new secret to PATH, created with mode 0600 (never overwritten)",
    )
    options.add_argument(
        "--print-secret",
        action="store_true",
        help="print the new secret on stdout (and in --json output)",
    )
    return options
