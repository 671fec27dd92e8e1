"""A dependency-free progress bar for settling legs."""

from __future__ import annotations

import sys
from collections import Counter
from typing import TextIO

from ..models import LegOutcome


class ProgressBar:
    """Redraws one line on a terminal; prints one line per update elsewhere (logs, CI)."""

    def __init__(self, *, width: int = 30, stream: TextIO | None = None) -> None:
        self._width = width
        self._stream = stream or sys.stderr
        self._counts: Counter[str] = Counter()
        self._tty = self._stream.isatty()

    def __call__(self, done: int, total: int, outcome: LegOutcome) -> None:
        """``on_progress`` callback of ``settle_batch``."""
        self._counts[outcome.result] += 1
        filled = self._width * done // max(total, 1)
        bar = "#" * filled + "-" * (self._width - filled)
        counts = " ".join(
            f"{name}={self._counts[name]}" for name in ("settled", "skipped", "failed", "unknown")
        )
        line = f"[{bar}] {done}/{total} {counts}  {outcome.asset}: {outcome.result}"
        if self._tty:
            self._stream.write("\r\x1b[2K" + line + ("\n" if done == total else ""))
        else:
            self._stream.write(line + "\n")
        self._stream.flush()
