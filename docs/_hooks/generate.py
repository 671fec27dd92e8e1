"""Generate the error catalogue of ``docs/errors.md`` from the code, at every docs build.

Also: ``<!-- include-results: benchmarks/results/X.md -->`` includes a benchmark result file (the
Performance page always shows the latest run), and ``<!-- resource: PrimeClient.settlement -->``
becomes a mkdocstrings directive for the class behind that attribute, found by building a client
(nothing is sent), so the reference does not name private module paths.

The page holds the marker ``<!-- errors-catalogue -->``; this mkdocs hook replaces it with:

* the exception tree, walked from :class:`kraken_prime_async.errors.KrakenPrimeError` over the
  classes in ``errors.__all__`` (so a new class shows up without anyone editing the page);
* one section per class: the Kraken error strings that map to it (read from ``_error_map``),
  the bare HTTP statuses that map to it (found by asking ``_error_map.from_status``), whether
  the client retries it (the class's ``retryable`` flag, with the rule's details), its
  ``category`` and what to do.

The advice is the only hand-written part (``ADVICE`` below). A class without advice still
gets a section (its docstring's first line); ``tests/docs/test_errors_catalogue.py`` checks
that every class and every mapped string is on the page.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

MARKER = "<!-- errors-catalogue -->"

#: Statuses probed through ``_error_map.from_status`` (a body without a Kraken ``error`` array).
PROBED_STATUSES = (400, 401, 403, 404, 409, 413, 429, 500, 501, 502, 503, 504)

#: Retry details beyond the ``retryable`` flag: class name -> text.
RETRY_NOTES: dict[str, str] = {
    "InvalidNonceError": "at most `max_nonce_retries` (2) times per call, each with a new nonce",
    "RateLimitError": "after a backoff, or until `<ts>` of `EService: Throttled` "
    "(up to `max_throttle_wait`); the key's counter model starts pacing",
    "TemporaryLockoutError": "every retry would reset Kraken's lockout timer",
    "ServiceUnavailableError": "with backoff, drawing on the client's retry budget",
    "DeadlineElapsedError": "reads and idempotent writes only: a create or settle is read back "
    "instead (see *Settlement* and *Guarantees*)",
    "InternalServerError": "reads and idempotent writes only: a create or settle is read back "
    "instead",
    "APIConnectionError": "when the request certainly never left (`sent` is false), or for reads "
    "and idempotent writes; a create or settle that may have arrived is read back instead",
    "APITimeoutError": "as `APIConnectionError`: reads yes; a write that may have arrived is "
    "read back, not re-sent",
    "ResponseValidationError": "per instance (`.retryable`): an unreadable answer to a read is "
    "retried; an answer of the wrong shape is not",
    "OutcomeUnknownError": "it is what a write ends with when neither the answer nor a "
    "read-back settled its outcome",
    "CoordinationError": "nothing was sent; the store must be fixed first",
}

#: What to do: class name -> text. Raised-when text for classes no Kraken string maps to.
ADVICE: dict[str, str] = {
    "KrakenPrimeError": "Catch this to catch everything the SDK raises.",
    "ValidationError": "Fix the argument named by `.field`; nothing was sent.",
    "ClientStateError": "Open the client (`async with`) and do not use it after `close()`.",
    "APIError": "An error string the SDK does not classify: read `.errors` and `.code`.",
    "AuthenticationError": "Check the key and secret (`KRAKEN_PRIME_API_SECRET`), that the key "
    "still exists and its user is enabled; for OAuth, refresh the token.",
    "PermissionDeniedError": "Use a key whose user has the role for this call (a `Viewer` "
    "cannot settle or manage users) or a token with the scope.",
    "InvalidNonceError": "Seen after the retries: another client uses the key with a larger "
    "nonce unit or a clock ahead. Give every user of the key one nonce source or fleet, align "
    "`nonce_unit`, set `nonce_window`, or rotate the key.",
    "RateLimitError": "Seen after the retries: set `rate_limit=` to the key's tier so calls "
    "wait instead, lower concurrency, or spread work over keys.",
    "TemporaryLockoutError": "Stop using the key for about 15 minutes; find the cause (invalid "
    "nonces or signatures) before resuming.",
    "InvalidArgumentsError": "Kraken refused an argument or a business rule (the detail after "
    "the last colon says which); fix the call or the state.",
    "ServiceUnavailableError": "Kraken or a proxy in front of it is unavailable: try later.",
    "DeadlineElapsedError": "Kraken timed out internally; the action may have happened. Read "
    "the state before repeating a write.",
    "InternalServerError": "Kraken failed internally; try later. For a write, read the state "
    "first.",
    "APIConnectionError": "No answer (connection refused, reset, DNS). Check `base_url` and the "
    "network; `.sent` says whether the request may have arrived.",
    "APITimeoutError": "No answer in time: raise `timeout=` or check the network.",
    "OutcomeUnknownError": "A write was sent and its effect is unknown: read the state "
    "(`.operation`, `.arguments` say which) before trying again. `settle_batch` reports such legs "
    "as `unknown`; running it again is safe.",
    "CoordinationError": "The fleet's store (Redis, lock files) failed; `.store` names it. "
    "Nothing was sent: fix the store and call again.",
    "ResponseValidationError": "The answer was not JSON or not of the documented shape; for a "
    "write, read the state. Report it if Kraken changed a shape.",
}


def _classes() -> list[type[BaseException]]:
    from kraken_prime_async import errors

    public = set(errors.__all__)
    # Definition order (the module's reading order), not ``__all__``'s alphabetical one.
    return [
        cls
        for name, cls in vars(errors).items()
        if name in public and isinstance(cls, type) and issubclass(cls, Exception)
    ]


def _strings_by_class() -> dict[str, list[str]]:
    from kraken_prime_async import _error_map

    table: dict[str, list[str]] = {}
    for prefix, cls in _error_map._BY_PREFIX.items():
        table.setdefault(cls.__name__, []).append(_wire_form(prefix))
    return table


def _wire_form(prefix: str) -> str:
    """``"api:invalid nonce"`` -> ``"EAPI:Invalid nonce"`` (Kraken's spelling of the prefix)."""
    category, _, kind = prefix.partition(":")
    category = category.upper() if category == "api" else category.capitalize()
    return f"E{category}:{kind[:1].upper()}{kind[1:]}"


def _statuses_by_class() -> dict[str, list[int]]:
    from kraken_prime_async import _error_map

    table: dict[str, list[int]] = {}
    for status in PROBED_STATUSES:
        exc = _error_map.from_status(status, "", operation="Probe")
        table.setdefault(type(exc).__name__, []).append(status)
    return table


def _summary(cls: type[BaseException]) -> str:
    doc = inspect.getdoc(cls) or ""
    text = doc.strip().split("\n\n", 1)[0].replace("\n", " ")
    return re.sub(r":[a-z]+:`~?([^`]+)`", r"`\1`", text).replace("``", "`")


def _tree(classes: list[type[BaseException]]) -> list[str]:
    names = {cls.__name__ for cls in classes}
    root = next(cls for cls in classes if cls.__name__ == "KrakenPrimeError")
    lines = [root.__name__]

    def walk(parent: type[BaseException], indent: str) -> None:
        children = [c for c in classes if c.__bases__ and parent in c.__bases__]
        for index, child in enumerate(children):
            last = index == len(children) - 1
            extra = [b.__name__ for b in child.__bases__ if b is not parent]
            extra = [b for b in extra if b not in names or b == "KrakenPrimeError"]
            label = child.__name__ + (f" ({', '.join(extra)})" if extra else "")
            lines.append(f"{indent}{'└── ' if last else '├── '}{label}")
            walk(child, indent + ("    " if last else "│   "))

    walk(root, "")
    return lines


def _raised_for(name: str, cls: type[BaseException], strings: list[str], codes: list[int]) -> str:
    raised = [f"`{s}`" for s in strings]
    if codes and name != "APIError":
        raised.append(f"HTTP {', '.join(str(c) for c in codes)} without a Kraken error body")
    if name == "APIError":
        raised.append("any other `E…` string; other HTTP 4xx without a Kraken error body")
    return ", ".join(raised) if raised else _summary(cls)


def render() -> str:
    """The catalogue, as Markdown: the tree, then one section per class (tree order)."""
    classes = _classes()
    strings = _strings_by_class()
    statuses = _statuses_by_class()
    out = ["```text", *_tree(classes), "```", ""]
    for cls in classes:
        name = cls.__name__
        parents = ", ".join(f"`{base.__name__}`" for base in cls.__bases__)
        retryable: Any = cls.__dict__.get("retryable", getattr(cls, "retryable", False))
        retried = "**yes**" if retryable is True else "no"
        if name in RETRY_NOTES:
            retried += ": " + RETRY_NOTES[name]
        advice = ADVICE.get(name) or (_summary(cls) + " See the class's reference.")
        raised = _raised_for(name, cls, strings.get(name, []), statuses.get(name, []))
        out += [
            f"### {name}",
            "",
            f"Subclass of {parents} · [reference][kraken_prime_async.errors.{name}]",
            "",
            f"* **Raised for:** {raised}",
            f"* **Retried by the client:** {retried}",
            f"* **Category** (`.category`): `{getattr(cls, 'category', 'sdk')}`",
            f"* **What to do:** {advice}",
            "",
        ]
    return "\n".join(out)


_RESOURCE = re.compile(r"<!-- resource: (?P<client>\w+)\.(?P<attr>\w+) -->")
#: base64 of "secret-for-docs-only": the client is built to look at its attributes, never used.
_DUMMY_SECRET = "c2VjcmV0LWZvci1kb2NzLW9ubHk="  # noqa: S105


def resource_path(client: str, attr: str) -> str:
    """The import path of the class behind ``client.<attr>`` (wherever the package keeps it)."""
    import kraken_prime_async as k

    built = (
        k.PrimeClient("DOCS", _DUMMY_SECRET) if client == "PrimeClient" else k.FastApiKeyClient("t")
    )
    cls = type(getattr(built, attr))
    return f"{cls.__module__}.{cls.__qualname__}"


def _resource(match: re.Match[str]) -> str:
    path = resource_path(match["client"], match["attr"])
    return f"::: {path}\n    options:\n      show_root_heading: false\n      heading_level: 3\n"


_INCLUDE = re.compile(r"<!-- include-results: (?P<path>[\w./-]+) -->")


def include_results(path: str) -> str:
    """A benchmark result file under a page's heading: its title dropped, headings one deeper."""
    from pathlib import Path

    lines = Path(path).read_text(encoding="utf-8").splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    return "\n".join("#" + line if line.startswith("#") else line for line in lines) + "\n"


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    """mkdocs hook: fill the catalogue marker, and include benchmark results where asked."""
    if MARKER in markdown:
        markdown = markdown.replace(MARKER, render())
    markdown = _RESOURCE.sub(_resource, markdown)
    return _INCLUDE.sub(lambda match: include_results(match["path"]), markdown)
