"""A griffe extension: the API reference shows what a user can use, not how the code is built.

* A default that names a constant (``base_url: str = DEFAULT_BASE_URL``) shows the constant's
  value (``"https://api.kraken.com"``): the value is what a reader needs, the name is private.
* An annotation that names a private type alias (``rate_limit: RateLimitSetting``) shows the
  alias' definition (``Literal["auto", ...] | RateLimit | None``): the whole union, not a name
  that leads nowhere.
* A base class from a private module that is not exported (``ClientBase``, ``Resource``,
  ``_Result``) is left out of "Bases:".

Configured in ``mkdocs.yml`` (``extensions:`` of the python handler); checked by
``tests/docs/test_rendered_reference.py``.
"""

from __future__ import annotations

import importlib
from typing import Any

import griffe

PACKAGE = "kraken_prime_async"


def _private(path: str) -> bool:
    return any(part.startswith("_") for part in path.split("."))


def _public_names() -> set[str]:
    names: set[str] = set()
    for module in (PACKAGE, f"{PACKAGE}.errors", f"{PACKAGE}.models", f"{PACKAGE}.events"):
        names.update(getattr(importlib.import_module(module), "__all__", ()))
    return names


def _constant(path: str) -> str | None:
    """``repr`` of the module-level constant at ``path`` (``pkg._constants.DEFAULT_X``), if any."""
    module_name, _, name = path.rpartition(".")
    if not module_name.startswith(PACKAGE) or not name.isupper():
        return None
    try:
        value = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError):
        return None
    if isinstance(value, (bool, int, float, str)) or value is None:
        return repr(value)
    if isinstance(value, tuple) and all(isinstance(item, str) for item in value):
        return repr(value)
    return None


class PublicSignatures(griffe.Extension):
    """Constant values for defaults, private aliases expanded, private bases hidden."""

    def __init__(self) -> None:
        super().__init__()
        self._public = _public_names()
        self._seen: set[int] = set()

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        if pkg.path == PACKAGE:
            self._walk(pkg)

    def _walk(self, obj: griffe.Object | griffe.Alias) -> None:
        if id(obj) in self._seen or obj.is_alias:
            return
        self._seen.add(id(obj))
        if isinstance(obj, griffe.Function):
            self._function(obj)
        elif isinstance(obj, griffe.Class):
            obj.bases = [base for base in obj.bases if self._shown_base(base)]
        elif isinstance(obj, griffe.Attribute) and isinstance(obj.value, griffe.Expr):
            shown = self._default(obj.value)
            if shown is not None:
                obj.value = shown
        for member in list(obj.members.values()):
            if not member.is_alias:
                self._walk(member)

    def _function(self, function: griffe.Function) -> None:
        for parameter in function.parameters:
            if isinstance(parameter.default, griffe.Expr):
                shown = self._default(parameter.default)
                if shown is not None:
                    parameter.default = shown
            if parameter.annotation is not None:
                parameter.annotation = self._expanded(parameter.annotation)

    def _default(self, expr: griffe.Expr) -> str | None:
        if isinstance(expr, (griffe.ExprName, griffe.ExprAttribute)):
            return _constant(expr.canonical_path)
        return None

    def _expanded(self, annotation: str | griffe.Expr, depth: int = 0) -> str | griffe.Expr:
        """``annotation`` with each private type alias replaced by its definition."""
        if depth > 3 or not isinstance(annotation, griffe.Expr):
            return annotation
        if isinstance(annotation, griffe.ExprName):
            target = self._alias_value(annotation)
            return annotation if target is None else self._expanded(target, depth + 1)
        if isinstance(annotation, griffe.ExprBinOp):
            annotation.left = self._expanded(annotation.left, depth)
            annotation.right = self._expanded(annotation.right, depth)
        return annotation

    def _alias_value(self, name: griffe.ExprName) -> griffe.Expr | None:
        path = name.canonical_path
        if not path.startswith(PACKAGE) or not _private(path):
            return None
        try:
            target = name.parent.modules_collection[path]  # type: ignore[union-attr]
        except (KeyError, AttributeError, griffe.AliasResolutionError, griffe.CyclicAliasError):
            return None
        if not isinstance(target, griffe.Attribute) or not isinstance(target.value, griffe.Expr):
            return None
        value = target.value
        union = isinstance(value, griffe.ExprBinOp) and value.operator == "|"
        literal = isinstance(value, griffe.ExprSubscript) and str(value.left) == "Literal"
        return value if union or literal else None

    def _shown_base(self, base: str | griffe.Expr) -> bool:
        if not isinstance(base, (griffe.ExprName, griffe.ExprAttribute)):
            return True
        path = base.canonical_path
        if not path.startswith(PACKAGE):
            return True
        return not _private(path) or path.rpartition(".")[2] in self._public
