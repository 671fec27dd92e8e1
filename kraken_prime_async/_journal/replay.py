"""Results in and out of the journal: plain data with every secret stripped, and back.

A created key's secret never enters the journal (``plain()`` writes ``None`` where a
``SecretStr`` was). A result read back from the journal (a repeated
call under an idempotency key) is decoded into its type again; a key's secret comes back as a
``WithheldSecret``: ``withheld`` is ``True`` and reading it raises
``SecretWithheldError``.
"""

from __future__ import annotations

from typing import Any, NoReturn, TypeVar

import msgspec

from .._secret import SecretStr
from ..errors import SecretWithheldError
from ..models._lazy import materialized

T = TypeVar("T")


class WithheldSecret(SecretStr):
    """The secret of a key returned from the journal: it was returned once, to the call that
    created the key, and is not stored anywhere by the SDK."""

    __slots__ = ()
    withheld = True

    def __init__(self) -> None:
        super().__init__("")

    def get_secret_value(self) -> NoReturn:
        raise SecretWithheldError(
            "this key was returned from the write journal (a repeated create under the same "
            "idempotency_key): its secret was returned once, to the call that created it, and is "
            "never stored. Use the secret kept from that call, or rotate the key."
        )

    def __repr__(self) -> str:
        return "SecretStr(<withheld: returned once, to the call that created the key>)"


def _strip(obj: Any) -> Any:
    if isinstance(obj, SecretStr):
        return None
    raise NotImplementedError(f"{type(obj).__name__} cannot be journaled")


def plain(value: Any) -> Any:
    """``value`` as JSON-able data, every secret replaced by ``None``; a created key's public
    ``api_key`` too (it is a credential half: the key is known by its ``id``)."""
    data = msgspec.to_builtins(materialized(value), enc_hook=_strip)  # lazy fields read first
    if isinstance(value, msgspec.Struct) and any(
        isinstance(getattr(value, name), SecretStr) for name in value.__struct_fields__
    ):
        data["api_key"] = None
    return data


def _withheld(tp: type[Any], obj: Any) -> Any:
    if tp is SecretStr:
        return WithheldSecret()
    raise NotImplementedError


def typed(data: Any, type_: type[T]) -> T:
    """A recorded result decoded into ``type_``; secret fields come back withheld."""
    if isinstance(data, dict):
        secret_fields = [
            field.encode_name
            for field in msgspec.structs.fields(type_)  # type: ignore[arg-type]
            if field.type is SecretStr
        ]
        data = {**data, **{name: {} for name in secret_fields}}
        if secret_fields and data.get("api_key") is None:
            data["api_key"] = "" if _required_str(type_, "api_key") else None
    # Through JSON, as the answer came: lazily decoded fields (``Batch.legs``) are built from
    # bytes, never converted from Python objects.
    return msgspec.json.decode(msgspec.json.encode(data), type=type_, dec_hook=_withheld)


def _required_str(type_: Any, name: str) -> bool:
    return any(
        f.name == name and f.type is str and f.required for f in msgspec.structs.fields(type_)
    )


def frozen(before: Any) -> Any:
    """A rule's ``before`` as recorded (sets become sorted lists)."""
    if isinstance(before, (set, frozenset)):
        return sorted(before)
    return before


def thawed(before: Any) -> Any:
    """A recorded ``before`` as the rules read it (lists become frozensets)."""
    if isinstance(before, list):
        return frozenset(before)
    return before
