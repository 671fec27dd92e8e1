"""The error catalogue of the docs is generated from the code, and covers all of it."""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from types import ModuleType

from kraken_prime_async import _error_map, errors

ROOT = Path(__file__).resolve().parents[2]


def _hook() -> ModuleType:
    spec = importlib.util.spec_from_file_location("docs_hook", ROOT / "docs/_hooks/generate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sections(page: str) -> dict[str, str]:
    parts = page.split("\n### ")[1:]
    return {part.split("\n", 1)[0]: part for part in parts}


def test_the_errors_page_holds_the_marker() -> None:
    hook = _hook()
    assert hook.MARKER in (ROOT / "docs/errors.md").read_text(encoding="utf-8")


def test_every_class_and_every_mapped_string_is_in_the_catalogue() -> None:
    page = _hook().render()
    sections = _sections(page)
    for name in errors.__all__:
        assert f"[reference][kraken_prime_async.errors.{name}]" in sections[name], name
        assert name in page.split("```")[1], f"{name} missing from the tree"
    for prefix, cls in _error_map._BY_PREFIX.items():
        raised = sections[cls.__name__].split("**Raised for:**")[1].split("\n")[0]
        assert f"`{_hook()._wire_form(prefix)}`".lower() in raised.lower(), prefix


def test_retried_follows_the_classes_flag() -> None:
    sections = _sections(_hook().render())
    for name in errors.__all__:
        retryable = getattr(errors, name).retryable
        assert ("**Retried by the client:** **yes**" in sections[name]) is (retryable is True)


def test_resource_markers_resolve_to_importable_classes() -> None:
    hook = _hook()
    for client, attr in [
        ("PrimeClient", "api_users"),
        ("PrimeClient", "api_user_keys"),
        ("PrimeClient", "settlement"),
        ("FastApiKeyClient", "fast_api_keys"),
    ]:
        module, _, name = hook.resource_path(client, attr).rpartition(".")
        assert hasattr(importlib.import_module(module), name)
