"""The package's shape: layers import downwards only, no import cycle, small modules, and the
Struct options every request and result inherits."""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path

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


def _runtime_imports(module: str) -> set[str]:
    """Package modules ``module`` imports when it is imported (``TYPE_CHECKING`` blocks and
    imports inside functions excluded)."""
    path = _path(module)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.parse(path.read_text()).body:
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


GRAPH = {module: _runtime_imports(module) for module in MODULES}


def test_no_import_cycle() -> None:
    done: set[str] = set()

    def visit(module: str, path: tuple[str, ...]) -> None:
        if module in path:
            pytest.fail("import cycle: " + " -> ".join((*path[path.index(module) :], module)))
        if module in done:
            return
        for target in GRAPH[module]:
            visit(target, (*path, module))
        done.add(module)

    for module in MODULES:
        visit(module, ())


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


@pytest.mark.parametrize("module", MODULES)
def test_modules_and_functions_stay_small(module: str) -> None:
    source = _path(module).read_text()
    if module.startswith("kraken_prime_async._resources") or module in {
        "kraken_prime_async.models",
        "kraken_prime_async._client",
        "kraken_prime_async._constants",
    }:
        assert source.count("\n") <= (560 if module.endswith("models") else 400), module
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                body = node.body[1:] if ast.get_docstring(node) else node.body
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
