"""``kraken-prime``: a command line for operators (users, keys, batches, settle, doctor, demo).

Tables by default, ``--json`` (anywhere on the line) for scripts. Errors are one line on stderr
that names what to fix (JSON under ``--json``) and a documented exit code. A key's secret is
printed only when asked for (``--print-secret``). Needs the ``cli`` extra (rich); the library
itself never imports it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]

INSTALL_HINT = "kraken-prime needs rich: pip install 'kraken-prime-async[cli]'"


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the exit code."""
    try:
        import rich  # noqa: F401
    except ImportError:
        print(INSTALL_HINT, file=sys.stderr)
        return 2
    from ._main import run

    return run(argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
