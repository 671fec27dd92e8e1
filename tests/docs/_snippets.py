"""Extract the fenced Python blocks of a Markdown file and run them as one session.

The convention (also stated in ``docs/index.md``, "Contributing to these docs"):

* Every block fenced as ```` ```python ```` is executed; ```` ```python norun ```` blocks (real
  credentials, a real Redis, a long-running service) are only compiled.
* The blocks of one file run in order in one namespace, like a doctest session: a name bound in
  one block is visible in the next ones.
* Before the first block, a ``PrimeSandbox(rate_limit=False)`` is started and bound as ``sb``,
  and the environment holds its settings: ``KRAKEN_PRIME_BASE_URL``, ``KRAKEN_PRIME_API_KEY``,
  ``KRAKEN_PRIME_API_SECRET`` and ``KRAKEN_OAUTH_TOKEN``. A block written for real use reads
  those variables and so runs against the sandbox unchanged.
* A block may use top-level ``await`` (``async with``, ``async for``): it then runs on the
  session's event loop, a background thread that also serves ``sb``. A block without top-level
  ``await`` runs in the calling thread, so a complete program ending in ``asyncio.run(main())``
  works as written (its own loop talks to ``sb`` over loopback HTTP like any other process).
* ``__name__`` is ``"__main__"``.
* A block fenced ```` ```python pytest ```` is a test module as a user would write it: it is
  saved to a temporary directory and run by pytest in a subprocess (``asyncio_mode = "auto"``,
  warnings as errors); it must pass.

A failing block fails with the file and the line of the failing statement (code objects are
compiled with the Markdown file's line numbers).
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import dataclasses
import inspect
import os
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from kraken_prime_async.sandbox import PrimeSandbox

_FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>[^\n`]*)$")
#: Seconds one block may run before the test gives up on it.
BLOCK_TIMEOUT = 120.0


@dataclasses.dataclass(frozen=True)
class Block:
    """One fenced block: where it starts, its info string and its code."""

    path: Path
    line: int  # 1-based line of the first code line
    info: str
    code: str

    @property
    def runs(self) -> bool:
        """``False`` for ``python norun`` blocks (compiled only)."""
        return "norun" not in self.info.split()[1:]

    @property
    def is_pytest_module(self) -> bool:
        """``True`` for ``python pytest`` blocks (run by pytest in a subprocess)."""
        return "pytest" in self.info.split()[1:]

    @property
    def where(self) -> str:
        """``README.md:42``."""
        return f"{self.path.name}:{self.line}"


def python_blocks(path: Path) -> list[Block]:
    """Every ```` ```python ```` block of ``path`` (other languages are skipped)."""
    blocks: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if match is None:
            index += 1
            continue
        fence, info, indent = match["fence"], match["info"].strip(), match["indent"]
        body: list[str] = []
        index += 1
        start = index + 1
        while index < len(lines) and not lines[index].strip().startswith(fence):
            line = lines[index]
            body.append(line[len(indent) :] if line.startswith(indent) else line)
            index += 1
        index += 1
        words = info.split()
        if words and words[0] in ("python", "py"):
            blocks.append(Block(path, start, info, "\n".join(body) + "\n"))
    return blocks


def compile_block(block: Block) -> Any:
    """Compile with the Markdown file's line numbers; top-level ``await`` allowed."""
    tree = ast.parse(block.code, filename=str(block.path), mode="exec")
    ast.increment_lineno(tree, block.line - 1)
    flags = ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
    return compile(tree, str(block.path), "exec", flags=flags, dont_inherit=True)


class Session:
    """A sandbox served from a background event loop, and one namespace for a file's blocks."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.sandbox = PrimeSandbox(rate_limit=False)
        self.namespace: dict[str, Any] = {"__name__": "__main__", "sb": self.sandbox}

    def _wait(self, awaitable: Any) -> Any:
        future = asyncio.run_coroutine_threadsafe(awaitable, self.loop)
        return future.result(timeout=BLOCK_TIMEOUT)

    async def _token(self) -> str:
        return self.sandbox.issue_token()

    def start(self) -> dict[str, str]:
        """Start the loop and the sandbox; return the environment a block sees."""
        self._thread.start()
        self._wait(self.sandbox.start())
        return {
            "KRAKEN_PRIME_BASE_URL": self.sandbox.url,
            "KRAKEN_PRIME_API_KEY": self.sandbox.api_key,
            "KRAKEN_PRIME_API_SECRET": self.sandbox.api_secret,
            "KRAKEN_OAUTH_TOKEN": self._wait(self._token()),
        }

    def run(self, block: Block) -> None:
        """Run one block (or only compile it, for ``norun``)."""
        code = compile_block(block)
        if not block.runs:
            return
        if block.is_pytest_module:
            run_pytest_module(block)
            return
        if code.co_flags & inspect.CO_COROUTINE:
            self._wait(_as_coroutine(code, self.namespace))
        else:
            exec(code, self.namespace)  # noqa: S102 - running documentation is the point

    def close(self) -> None:
        """Close what the blocks left open (clients), the sandbox, then the loop."""
        for value in list(self.namespace.values()):
            close = getattr(value, "close", None)
            if isinstance(value, type) or value is self.sandbox:
                continue
            if inspect.iscoroutinefunction(close):
                with contextlib.suppress(Exception):  # best effort, after a failed block
                    self._wait(close())
        self._wait(self.sandbox.close())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)
        self.loop.close()


def run_pytest_module(block: Block) -> None:
    """Run a ``python pytest`` block with pytest, as a user's test file; raise if it fails."""
    with tempfile.TemporaryDirectory() as directory:
        test_file = Path(directory, "test_from_docs.py")
        test_file.write_text("\n" * (block.line - 1) + block.code, encoding="utf-8")
        done = subprocess.run(  # noqa: S603 - our interpreter, our file
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "-W",
                "error",
                "-o",
                "asyncio_mode=auto",
                "-o",
                "asyncio_default_fixture_loop_scope=function",
                str(test_file),
            ],
            cwd=directory,
            capture_output=True,
            text=True,
            timeout=BLOCK_TIMEOUT,
            check=False,
        )
    if done.returncode != 0:
        raise AssertionError(f"pytest failed on the block at {block.where}:\n{done.stdout}")


async def _as_coroutine(code: Any, namespace: dict[str, Any]) -> None:
    result = eval(code, namespace)  # noqa: S307 - top-level-await code returns a coroutine
    await result


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the blocks of one file, then restore the whole environment
    (a block may set variables of its own, e.g. ``KRAKEN_PRIME_API_SECRET_FILE``, which must not
    reach the next file's ``from_env()``)."""
    saved = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
