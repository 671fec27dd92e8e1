"""``journal`` commands: export the write journal as hash-chained JSON lines, verify an export.

``kraken-prime journal export --journal PATH [--since TIME] > audit.jsonl`` reads a file journal
(``PrimeClient(journal="PATH")``; ``--redis URL``: a ``RedisJournal``) and writes every record
to stdout, each line carrying the SHA-256 of the line before it and of itself.
``kraken-prime journal verify audit.jsonl`` exits 0 when the file is intact and 4 naming the
first broken record otherwise.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .._constants import DEFAULT_JOURNAL_NAMESPACE
from .._journal.base import Store
from .._journal.chain import verify
from .._journal.journal import Journal
from ..errors import ValidationError
from ._args import group, leaf
from ._console import say
from ._errors import EXIT_INCOMPLETE, EXIT_OK
from ._output import emit_json

if TYPE_CHECKING:
    from ._args import Subparsers


def register(commands: Subparsers) -> None:
    """``journal {export,verify}``."""
    journal = group(commands, "journal", "the write journal: audit export")
    export = leaf(journal, "export", "write the journal as hash-chained JSON lines to stdout")
    journal_options(export, required=True)
    export.add_argument(
        "--since",
        metavar="TIME",
        help="only records from TIME on: Unix seconds or ISO 8601 with an offset",
    )
    export.set_defaults(run=journal_export)
    check = leaf(journal, "verify", "check an export's hash chain; name the first broken record")
    check.add_argument("file", help="the exported JSON lines ('-' reads stdin)")
    check.set_defaults(run=journal_verify)


def journal_options(parser: argparse.ArgumentParser, *, required: bool, why: str = "") -> None:
    """``--journal PATH | --redis URL`` and ``--namespace``: the write journal to read
    (``why``: what the command reads it for, added to the help)."""
    where = parser.add_mutually_exclusive_group(required=required)
    where.add_argument("--journal", metavar="PATH", help=f"the SQLite journal file{why}")
    where.add_argument(
        "--redis", metavar="URL", help=f"a RedisJournal's server (the redis extra){why}"
    )
    parser.add_argument(
        "--namespace", default=DEFAULT_JOURNAL_NAMESPACE, help="the RedisJournal's namespace"
    )


def _since(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        pass
    try:
        when = datetime.fromisoformat(text[:-1] + "+00:00" if text.endswith("Z") else text)
    except ValueError:
        raise ValidationError("--since", "must be Unix seconds or ISO 8601") from None
    if when.tzinfo is None:
        raise ValidationError("--since", "needs a UTC offset (for example 2026-01-01T00:00Z)")
    return when.timestamp()


def _journal_file(text: str) -> Path:
    path = Path(text)
    if not path.is_file():  # never create an empty journal by exporting a typo
        raise ValidationError("--journal", f"no journal file at {path}")
    return path


def journal_store(args: argparse.Namespace) -> Store | None:
    """The store ``journal_options()`` name (an existing file, or Redis); ``None`` without
    either."""
    if args.redis is not None:
        from .._journal.redis import RedisJournal

        return RedisJournal(args.redis, namespace=args.namespace)
    if args.journal is None:
        return None
    from .._journal.sqlite import SqliteJournal

    return SqliteJournal(_journal_file(args.journal))


async def journal_export(args: argparse.Namespace) -> int:
    """``journal export (--journal PATH | --redis URL) [--since TIME]``."""
    since = _since(args.since)
    store = journal_store(args)
    assert store is not None  # one of the two is required
    journal = Journal(store, "", owned=True)
    count = 0
    try:
        async for line in journal.export(since):
            sys.stdout.write(line)
            count += 1
    finally:
        await journal.close()
    sys.stdout.flush()
    say(f"{count} records exported")
    return EXIT_OK


def journal_verify(args: argparse.Namespace) -> int:
    """``journal verify FILE``: 0 intact, 4 with the first broken record named."""
    if args.file == "-":
        count, broken = verify(sys.stdin.buffer)
    else:
        path = Path(args.file)
        if not path.is_file():
            raise ValidationError("file", f"no file at {path}")
        with path.open("rb") as lines:
            count, broken = verify(lines)
    if args.json:
        emit_json(
            {
                "intact": broken is None,
                "records": count,
                "broken": None
                if broken is None
                else {"record": broken.line, "seq": broken.seq, "problem": broken.problem},
            }
        )
    if broken is not None:
        say(f"broken: {broken}")
        return EXIT_INCOMPLETE
    say(f"intact: {count} records, the hash chain holds")
    return EXIT_OK
