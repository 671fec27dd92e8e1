"""Terminal output through rich: one console per stream, tables, and logging through the console.

On a terminal, tables fit its width and log records are printed by the same console that draws
the progress bar, so a record appears above the bar instead of being glued onto it. Elsewhere
(a pipe, a file, CI) the output is plain: no colours, no cursor movement, lines never cut.
"""

from __future__ import annotations

import logging
import os
import re
import sys
import textwrap
from collections.abc import Callable, Sequence
from typing import Any, Final, TextIO

from rich.console import Console, RenderableType
from rich.logging import RichHandler
from rich.table import Table
from rich.text import Text

from .._constants import LOGGER_NAME

#: Width used when the stream is not a terminal: wide enough that no table cell is ever cut.
PLAIN_WIDTH = 10_000

#: Spaces between table columns.
GAP = 2
#: The narrowest a wrapped column gets (its header is never cut either).
MIN_WRAPPED = 16

_consoles: dict[int, Console] = {}


def console_for(stream: TextIO) -> Console:
    """The console writing to ``stream`` (one per stream, so every writer shares it)."""
    found = _consoles.get(id(stream))
    if found is None or found.file is not stream:
        found = _consoles[id(stream)] = _make(stream)
    return found


def _make(stream: TextIO) -> Console:
    tty = stream.isatty()
    width = None if tty or os.environ.get("COLUMNS") else PLAIN_WIDTH
    return Console(
        file=stream,
        width=width,
        force_terminal=tty,
        highlight=False,
        markup=False,
        emoji=False,
        soft_wrap=not tty,
    )


def out() -> Console:
    """Results: ``sys.stdout``."""
    return console_for(sys.stdout)


def err() -> Console:
    """Progress, notes and log records: ``sys.stderr``."""
    return console_for(sys.stderr)


def show(renderable: RenderableType, console: Console | None = None) -> None:
    """Print a table or grid; off a terminal, without the padding rich leaves at line ends."""
    console = console or out()
    if console.is_terminal:
        console.print(renderable)
        return
    with console.capture() as captured:
        console.print(renderable)
    lines = captured.get().splitlines()
    console.file.write("".join(line.rstrip() + "\n" for line in lines))
    console.file.flush()


#: The label a message's continuation lines hang under: ``error: ``, ``note: ``, ``6. ``.
_LABEL: Final = re.compile(r"(?:\d+\. |\d* ?[a-z][a-z ]{0,24}: )")


def hanging(text: str, width: int) -> str:
    """``text`` wrapped to ``width`` columns, continuation lines indented under its label (as
    ``doctor`` does), words never broken (an id or a key longer than a line stays whole)."""
    label = _LABEL.match(text)
    indent = " " * (len(label.group()) if label else 2)
    return textwrap.fill(
        text,
        width,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )


def line(text: str) -> None:
    """One line of results on stdout; on a terminal, wrapped with a hanging indent."""
    console = out()
    if console.is_terminal:
        text = hanging(text, console.width)
    console.print(Text(text), soft_wrap=True)


def say(text: str) -> None:
    """One note on stderr (above the progress bar when one is drawn); on a terminal, wrapped
    with a hanging indent."""
    console = err()
    if console.is_terminal:
        text = hanging(text, console.width)
    console.print(Text(text), soft_wrap=True)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, (list, tuple)):
        return ",".join(_cell(v) for v in value) or "-"
    if isinstance(value, dict):
        return ",".join(f"{k}={_cell(v)}" for k, v in value.items()) or "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def print_fields(fields: dict[str, Any], console: Console | None = None) -> None:
    """One ``name  value`` line per field (a single record, at any width): a value too long for
    the line wraps under its own column, a word too long for it folds (never an ellipsis)."""
    table = Table.grid(padding=(0, GAP))
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for name, value in fields.items():
        table.add_row(name, _cell(value))
    show(table, console)


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 key``, ``2 keys`` (``many``: the plural when it is not ``word + "s"``)."""
    return f"{count} {word if count == 1 else many or word + 's'}"


def _widths(
    headers: Sequence[str], cells: Sequence[Sequence[str]], wrapped: Sequence[int], room: int
) -> list[int] | None:
    """Column widths that fit ``room`` columns, or ``None`` when the table cannot fit.

    Every column but the ``wrapped`` ones keeps its full width (ids and keys are never cut); the
    wrapped ones share what is left, each at least its header and ``MIN_WRAPPED`` (or its own
    width, if smaller)."""
    widths = [max(len(h), *(len(row[i]) for row in cells)) for i, h in enumerate(headers)]
    left = room - GAP * (len(widths) - 1) - sum(w for i, w in enumerate(widths) if i not in wrapped)
    if sum(widths[i] for i in wrapped) <= left:
        return widths
    floors = {i: min(widths[i], max(len(headers[i]), MIN_WRAPPED)) for i in wrapped}
    if sum(floors.values()) > left:
        return None
    spare = left - sum(floors.values())
    order = sorted(wrapped, key=lambda i: widths[i])  # narrow ones first, the rest to the last
    for done, i in enumerate(order):
        share = min(widths[i] - floors[i], spare // (len(order) - done))
        widths[i], spare = floors[i] + share, spare - share
    return widths


def print_table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str],
    *,
    title: str | None = None,
    wrap: Sequence[str] = (),
) -> None:
    """Print ``rows`` as a table of ``columns`` on stdout, one line per row where it fits.

    Nothing is ever cut. On a terminal too narrow for the table, the ``wrap`` columns (messages,
    lists) wrap within their column; if the table still does not fit, each row is printed as
    ``name  value`` lines instead (ids and API keys stay whole and copyable). Elsewhere (a pipe)
    every row is one line; ``--json`` has every value as sent.
    """
    console = out()
    if title:
        console.print(Text(title, style="bold"))
    if not rows:
        console.print("(none)")
        return
    cells = [[_cell(row.get(column)) for column in columns] for row in rows]
    headers = [column.upper().replace("_", " ") for column in columns]
    wrapped = [i for i, column in enumerate(columns) if column in wrap]
    widths = _widths(headers, cells, wrapped, console.width if console.is_terminal else PLAIN_WIDTH)
    if widths is None:
        for number, row in enumerate(cells):
            if number:
                console.print()
            named = zip(columns, row, strict=True)
            print_fields({column.replace("_", " "): cell for column, cell in named}, console)
        return
    table = Table(box=None, pad_edge=False, padding=(0, GAP, 0, 0), header_style="bold")
    for i, (header, width) in enumerate(zip(headers, widths, strict=True)):
        table.add_column(header, no_wrap=i not in wrapped, overflow="fold", width=width)
    for row in cells:
        table.add_row(*row)
    show(table, console)


class _PlainHandler(logging.Handler):
    """``LEVEL logger: message`` through the console (no terminal: plain lines)."""

    def __init__(self, console: Console) -> None:
        super().__init__()
        self._console = console
        self.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._console.print(Text(self.format(record)), soft_wrap=True)
        except Exception:  # pragma: no cover - logging must not raise
            self.handleError(record)


#: ``KRAKEN_PRIME_LOG=info|debug`` (the SDK's switch for a stderr log) raises the CLI's level too.
ENV_LOG = "KRAKEN_PRIME_LOG"
_ENV_VERBOSITY = {"info": 1, "debug": 2}


def setup_logging(verbosity: int) -> Callable[[], None]:
    """Send the SDK's log records through the stderr console; return the undo function.

    ``verbosity``: 0 warnings, 1 info, 2 debug (metadata only: the SDK never logs a secret), or
    more if ``KRAKEN_PRIME_LOG`` asks for it. A stream handler already on the SDK's logger is set
    aside while the command runs: it would write past the console and tear the progress bar.
    """
    console = err()
    verbosity = max(verbosity, _ENV_VERBOSITY.get(os.environ.get(ENV_LOG, "").lower(), 0))
    level = {0: logging.WARNING, 1: logging.INFO}.get(verbosity, logging.DEBUG)
    handler: logging.Handler
    if console.is_terminal:
        handler = RichHandler(console=console, show_path=False, show_time=False, markup=False)
    else:
        handler = _PlainHandler(console)
    logger = logging.getLogger(LOGGER_NAME)
    saved = (logger.level, logger.propagate)
    streams = [h for h in logger.handlers if type(h) is logging.StreamHandler]
    for stream in streams:
        logger.removeHandler(stream)
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False

    def undo() -> None:
        logger.removeHandler(handler)
        for stream in streams:
            logger.addHandler(stream)
        logger.setLevel(saved[0])
        logger.propagate = saved[1]

    return undo
