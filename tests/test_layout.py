"""The package's shape: no import cycle (hidden ones included), few flat private modules,
aiohttp's private API behind one door, small modules and functions, and the Struct options
every request and result inherits."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import sys
from pathlib import Path
from typing import Any

import msgspec
import pytest

import kraken_prime_async
from kraken_prime_async import PrimeClient, models
from kraken_prime_async.errors import ValidationError

PACKAGE = Path(kraken_prime_async.__file__).parent
MODULES = sorted(
    info.name
    for info in pkgutil.walk_packages([str(PACKAGE)], "kraken_prime_async.")
    if info.name != "kraken_prime_async.__main__"
)


def _path(module: str) -> Path:
    relative = Path(*module.split(".")[1:])
    package = PACKAGE / relative / "__init__.py"
    return package if package.exists() else (PACKAGE / relative).with_suffix(".py")


def _imports(module: str) -> set[str]:
    """Package modules ``module`` imports anywhere: at the top, inside ``TYPE_CHECKING`` blocks
    and inside functions (a cycle hidden in any of them is still a cycle for the reader)."""
    path = _path(module)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            base = (
                importlib.util.resolve_name("." * node.level + (node.module or ""), package)
                if node.level
                else node.module or ""
            )
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                found.add(candidate if candidate in MODULES else base)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name in MODULES and name != module}


GRAPH = {module: _imports(module) for module in MODULES}


#: The one cycle allowed, type-only as in httpx: an error carries a model, a model names errors
#: (between ``errors`` and the modules of the ``models`` package, nothing else).
def _allowed(group: list[str]) -> bool:
    return "kraken_prime_async.errors" in group and all(
        name == "kraken_prime_async.errors" or name.startswith("kraken_prime_async.models")
        for name in group
    )


def _cycles() -> list[list[str]]:
    """The strongly connected groups of the import graph (Tarjan's algorithm), largest first."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for target in sorted(GRAPH[module]):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group: list[str] = []
            while not group or group[-1] != module:
                group.append(stack.pop())
            if len(group) > 1:
                groups.append(sorted(group))

    for module in MODULES:
        if module not in index:
            visit(module)
    return sorted(groups, key=len, reverse=True)


def test_no_import_cycle_but_errors_and_models() -> None:
    cycles = [group for group in _cycles() if not _allowed(group)]
    assert not cycles, "import cycles: " + "; ".join(" <-> ".join(group) for group in cycles)


def test_the_import_graph_sees_hidden_imports() -> None:
    # ``errors`` names ``models`` only under TYPE_CHECKING; the graph must see it.
    assert "kraken_prime_async.models" in GRAPH["kraken_prime_async.errors"]
    # ``PrimeClient`` loads its resources inside a method.
    assert "kraken_prime_async._resources.api_users" in GRAPH["kraken_prime_async._client"]


def test_at_most_twenty_private_modules_at_the_top() -> None:
    """A new family of modules gets its own folder (a wing), not more flat files."""
    flat = sorted(path.name for path in PACKAGE.glob("_*.py") if not path.name.startswith("__"))
    assert len(flat) <= 20, flat


def test_resources_never_import_the_clients() -> None:
    clients = {"kraken_prime_async._client", "kraken_prime_async._oauth_client"}
    for module in MODULES:
        if module.startswith("kraken_prime_async._resources"):
            source = _path(module).read_text()
            assert "_client import" not in source, module
            assert not GRAPH[module] & clients, module
    assert (
        "kraken_prime_async._resources.settlement"
        not in GRAPH["kraken_prime_async._resources.settle_batch"]
    )


def _private_aiohttp_uses(module: str) -> list[tuple[int, str]]:
    """``(line, what)`` for each use of a private name of aiohttp in ``module``: an import of a
    private aiohttp name or module, an ``aiohttp._x`` attribute chain, and the private
    ``ClientSession`` names the SDK has used (``_request``, ``_retry_connection``), as attributes
    or as strings (``hasattr``, ``getattr``)."""
    session_names = {"_request", "_retry_connection"}
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(_path(module).read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("aiohttp"):
            names = [(node.module or "").split("."), *([a.name] for a in node.names)]
            if any(part.startswith("_") for parts in names for part in parts):
                found.append((node.lineno, f"from {node.module} import ..."))
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("aiohttp") and "._" in alias.name:
                    found.append((node.lineno, f"import {alias.name}"))
        elif isinstance(node, ast.Attribute):
            chain, value = [node.attr], node.value
            while isinstance(value, ast.Attribute):
                chain.append(value.attr)
                value = value.value
            private_chain = isinstance(value, ast.Name) and value.id == "aiohttp"
            if node.attr in session_names or (
                private_chain and any(p.startswith("_") and p[:2] != "__" for p in chain)
            ):
                found.append((node.lineno, node.attr))
        elif isinstance(node, ast.Constant) and node.value in session_names:
            found.append((node.lineno, repr(node.value)))
    return found


def test_aiohttp_private_api_lives_behind_one_door() -> None:
    """Outside ``_transports/`` no private aiohttp name; inside, only in ``sender`` of
    ``_transports/aiohttp.py`` (a version check with the public API as fallback)."""
    door = "kraken_prime_async._transports.aiohttp"
    for module in MODULES:
        if module != door:
            assert not _private_aiohttp_uses(module), (module, _private_aiohttp_uses(module))
    tree = ast.parse(_path(door).read_text())
    functions = [
        node for node in ast.walk(tree) if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
    ]
    lines = {line for line, _ in _private_aiohttp_uses(door)}
    homes = {f.name for f in functions for line in lines if f.lineno <= line <= (f.end_lineno or 0)}
    assert lines and homes == {"sender"}, homes
    sender = next(f for f in functions if f.name == "sender")
    assert "session.request" in (ast.get_source_segment(_path(door).read_text(), sender) or "")


def _pyproject() -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    data: dict[str, Any] = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())
    return data


def test_aiohttp_is_pinned_below_the_next_major() -> None:
    """A major aiohttp release may drop what ``sender`` relies on: it must be a conscious
    upgrade, tested on the lowest and the newest release (``make test``)."""
    (pin,) = [d for d in _pyproject()["project"]["dependencies"] if d.startswith("aiohttp")]
    assert ">=3.11" in pin and "<4" in pin, pin


def test_complexity_is_judged_by_ruff() -> None:
    lint = _pyproject()["tool"]["ruff"]["lint"]
    assert {"C901", "PLR0915"} <= set(lint["select"])
    assert lint["mccabe"]["max-complexity"] == 12


@pytest.mark.parametrize("module", MODULES)
def test_modules_and_functions_stay_small(module: str) -> None:
    """Size by cohesion: ruff's ``C901`` and ``PLR0915`` (pyproject) judge complexity; these
    bounds keep any module and function readable in one sitting."""
    source = _path(module).read_text()
    assert source.count("\n") <= 500, module
    if module.startswith("kraken_prime_async.cli"):
        return  # the command line's parsers are long lists of options
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body = node.body[1:] if ast.get_docstring(node) and len(node.body) > 1 else node.body
            length = (node.end_lineno or 0) - body[0].lineno + 1
            assert length <= 60, f"{module}.{node.name}: {length} lines"


def _structs() -> list[type[msgspec.Struct]]:
    found = []
    for module in MODULES:
        if "._reconcile" in module:
            continue  # the rules' own records (they hold callables and exceptions), not answers
        if "_resources" in module or module.endswith("models"):
            for _, value in inspect.getmembers(importlib.import_module(module), inspect.isclass):
                if issubclass(value, msgspec.Struct) and value.__module__ == module:
                    found.append(value)
    return found


#: Results that hold an exception (its traceback's frames can refer back to the result): they
#: stay tracked by the garbage collector, or such a cycle could never be freed.
_HOLD_EXCEPTIONS = {"LegOutcome", "SettlementReport"}


def test_requests_and_results_inherit_frozen_and_untracked() -> None:
    structs = _structs()
    assert len(structs) > 25
    for struct in structs:
        config = struct.__struct_config__
        assert config.frozen, struct
        assert config.gc == (struct.__name__ in _HOLD_EXCEPTIONS), struct


def test_from_fast_api_key_checks_the_key_and_its_window() -> None:
    from tests._fakes import FAKE_SECRET

    created = models.CreatedFastApiKey(
        api_key="FASTKEY0001", secret=models.SecretStr(FAKE_SECRET), nonce_window=5000
    )
    client = PrimeClient.from_fast_api_key(created, base_url="http://127.0.0.1:1", rate_limit=None)
    assert client.base_url == "http://127.0.0.1:1" and "FASTKEY0001" not in repr(client)
    assert PrimeClient.from_fast_api_key(created, nonce_window=0).base_url.startswith("https://")
    with pytest.raises(ValidationError, match="nonce_window"):
        PrimeClient.from_fast_api_key(created, nonce_window=5001)
    listed = models.FastApiKeyInfo(api_key="FASTKEY0001")
    with pytest.raises(ValidationError, match="created"):
        PrimeClient.from_fast_api_key(listed)  # type: ignore[arg-type]


def test_the_import_adds_little_beyond_aiohttp_and_msgspec() -> None:
    """Import time is a benchmarked target (issue 17): ``import kraken_prime_async`` may add the
    package's own modules and two small stdlib ones to what ``import aiohttp, msgspec`` loads.
    ``dataclasses`` is the one to keep out: each dataclass costs about 1 ms to build (its methods
    are compiled from source), so the package's records are msgspec Structs or slotted classes."""
    import subprocess
    import sys

    code = (
        "import sys, aiohttp, msgspec\n"
        "before = set(sys.modules)\n"
        "import kraken_prime_async\n"
        "from kraken_prime_async import FastApiKeyClient, PrimeClient, errors, events, models\n"
        "print(' '.join(sorted(m for m in set(sys.modules) - before"
        " if not m.startswith('kraken_prime_async'))))\n"
    )
    out = subprocess.run(  # noqa: S603 - this interpreter, a fixed program
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert set(out.stdout.split()) <= {"hmac", "secrets"}, out.stdout
