"""``KRAKEN_PRIME_LOG=info|debug``: a stderr handler for the package logger, set up at import.

Unset, empty or any other value changes nothing (the library adds no handler by default). The
handler writes ``time level logger [request id] message`` lines; the request id is the record's
``request_id`` (``-`` outside a call, see ``context``).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Final

from .._constants import LOGGER_NAME

#: ``KRAKEN_PRIME_LOG`` values and the level each sets on the package logger.
LOG_LEVELS: Final = {"info": logging.INFO, "debug": logging.DEBUG}
LOG_FORMAT: Final = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"


class _EnvHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The stderr handler ``KRAKEN_PRIME_LOG`` adds (one at most)."""


class _Formatter(logging.Formatter):
    """``LOG_FORMAT``, with ``-`` for a record without a request id (the record is not changed:
    other handlers see it as it was)."""

    def format(self, record: logging.LogRecord) -> str:
        if record.__dict__.get("request_id") is not None:
            return super().format(record)
        saved = record.__dict__.get("request_id", _MISSING)
        record.request_id = "-"
        try:
            return super().format(record)
        finally:
            if saved is _MISSING:
                del record.__dict__["request_id"]
            else:
                record.request_id = saved


_MISSING: Final = object()


def configure_logging_from_env(value: str | None = None) -> logging.Handler | None:
    """Set up a stderr handler for the package logger if ``KRAKEN_PRIME_LOG`` asks for one.

    ``info`` or ``debug`` (any case): the logger's level is set and a handler writing
    ``time level logger [request id] message`` lines to stderr is added (once). Unset, empty or
    any other value: nothing is changed. Returns the handler, or ``None``.
    """
    if value is None:
        value = os.environ.get("KRAKEN_PRIME_LOG")
    level = LOG_LEVELS.get((value or "").strip().lower())
    if level is None:
        return None
    package_logger = logging.getLogger(LOGGER_NAME)
    package_logger.setLevel(level)
    for handler in package_logger.handlers:
        if isinstance(handler, _EnvHandler):
            return handler
    handler = _EnvHandler(sys.stderr)
    handler.setFormatter(_Formatter(LOG_FORMAT))
    package_logger.addHandler(handler)
    return handler
