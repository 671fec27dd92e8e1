"""``kraken-prime``: a command line for operators (users, keys, batches, settle, doctor, demo).

Tables by default, ``--json`` (anywhere on the line) for scripts. Errors are one line on stderr
that names what to fix (JSON under ``--json``) and a documented exit code. A key's secret is
printed only when asked for (``--print-secret``). The commands need the ``cli`` extra (rich); the
library itself never imports it. Without it, ``kraken-prime --version`` and ``kraken-prime
sandbox`` still run, with plain output (``_plain``), and the other commands name the extra.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

__all__ = ["main"]

INSTALL_HINT = (
    "kraken-prime needs rich for this command: pip install 'kraken-prime-async[cli]' "
    "(without it, only --version and sandbox run)"
)


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; return the exit code."""
    try:
        import rich  # noqa: F401
    except ImportError:
        from ._plain import run as run_plain

        return run_plain(sys.argv[1:] if argv is None else argv, INSTALL_HINT)
    from ._main import run

    return run(argv)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
