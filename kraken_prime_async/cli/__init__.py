"""``kraken-prime``: a command line for operators (users, keys, batches, settle, sandbox, demo).

Human tables by default, ``--json`` for scripts. Errors are one clear line on stderr and a
non-zero exit code; no secret is ever printed except the one-time ``api_secret`` of a newly
created key.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Sequence

from ..errors import (
    APIConnectionError,
    APIError,
    KrakenPrimeError,
    OutcomeUnknownError,
    ValidationError,
)
from ._parser import build_parser

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the exit code."""
    args = build_parser().parse_args(argv)
    try:
        code: int = asyncio.run(args.run(args))
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except ValidationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OutcomeUnknownError as exc:
        print(f"outcome unknown: {exc}", file=sys.stderr)
        return 3
    except (APIError, APIConnectionError) as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    except KrakenPrimeError as exc:
        print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return code


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
