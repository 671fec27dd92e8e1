"""Progress of ``settle_batch`` on stderr: a rich bar on a terminal, plain lines elsewhere."""

from __future__ import annotations

from collections import Counter
from types import TracebackType

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text

from ..models import LegOutcome
from ._console import plural

RESULTS = ("settled", "skipped", "failed", "unknown")


class SettleProgress:
    """The ``on_progress`` callback of ``settle_batch``, drawn on ``console``.

    On a terminal: one line that is redrawn in place and fits the terminal's width; a leg that
    failed or is unknown, and every log record, is printed above it. Elsewhere: one plain line
    per leg.

    Use as a context manager around the ``settle_batch`` call; pass ``callback`` as its
    ``on_progress`` (``None`` when not ``enabled``, e.g. under ``--json``).
    """

    def __init__(self, console: Console, *, label: str = "settling", enabled: bool = True) -> None:
        self._console = console
        self._counts: Counter[str] = Counter()
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self._total: int | None = None
        self.enabled = enabled
        if console.is_terminal and enabled:
            self._progress = Progress(
                TextColumn(label),
                BarColumn(bar_width=None),
                MofNCompleteColumn(),
                TextColumn("{task.fields[counts]}"),
                TimeElapsedColumn(),
                console=console,
                expand=True,
                transient=False,
            )

    @property
    def callback(self) -> SettleProgress | None:
        """``self`` when enabled, else ``None``."""
        return self if self.enabled else None

    def _counts_text(self) -> str:
        return " ".join(f"{name} {self._counts[name]}" for name in RESULTS if self._counts[name])

    def summary(self) -> str:
        """What was done so far: ``3 of 12 legs settled`` (``, 1 skipped``...)."""
        if self._total is None:
            return "no leg settled yet"
        parts = [f"{self._counts['settled']} of {plural(self._total, 'leg')} settled"]
        parts += [f"{self._counts[name]} {name}" for name in RESULTS[1:] if self._counts[name]]
        return ", ".join(parts)

    def __enter__(self) -> SettleProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._progress is not None:
            if exc is not None:  # interrupted or failed: the bar goes (the message says why)
                self._progress.live.transient = True
            self._progress.stop()

    def __call__(self, done: int, total: int, outcome: LegOutcome) -> None:
        """Record one leg's outcome and redraw."""
        self._counts[outcome.result] += 1
        self._total = total
        reason = f" ({outcome.reason})" if outcome.reason else ""
        line = f"{outcome.asset}: {outcome.result}{reason}"
        if self._progress is None:
            self._console.print(Text(f"[{done}/{total}] {line}"), soft_wrap=True)
            return
        if outcome.result in ("failed", "unknown"):
            self._console.print(Text(line))
        if self._task is None:
            self._task = self._progress.add_task("settle", total=total, counts="")
        self._progress.update(self._task, completed=done, counts=self._counts_text())
