"""Result fields decoded on first read, from the answer's own bytes.

A lazy field is an ordinary Struct field that the decoder fills with a ``msgspec.Raw``: a
view of the field's JSON inside the answer's body, made without copying or parsing it into
objects (the decoder only scans past it). Reading the attribute decodes that view into the
field's declared type once and stores the value in the field's own slot, in place of the view:
from then on the attribute, ``==``, ``hash``, ``repr``, ``msgspec.structs.asdict()`` and
``msgspec.to_builtins()`` see exactly what an eager decode would have produced.

How it is done: ``lazy_fields()`` replaces the class's slot descriptor for each lazy field
with a ``LazyField``, which keeps the slot descriptor and reads and writes through it (the
class's own storage; the instance stays frozen to its users, whose writes still raise). A
value given to the constructor is stored as given and never decoded. ``==``, ``hash``,
``repr`` and ``__rich_repr__`` decode the lazy fields first, then defer to msgspec's own.

The trade-off: until every lazy field of every result from one answer has been read, the
answer's whole body stays in memory (each view keeps it alive). Reading a field drops its view.
``msgspec.json.encode()`` writes an unread field as the bytes Kraken sent;
``msgspec.to_builtins()`` cannot convert an unread view (``TypeError``): read the field first
(``materialized()`` does it for a whole result tree).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from ..errors import ResponseValidationError

_Raw = msgspec.Raw
_native_eq = msgspec.Struct.__eq__
_native_hash = msgspec.Struct.__hash__
_native_repr = msgspec.Struct.__repr__
_native_rich_repr = msgspec.Struct.__rich_repr__

S = TypeVar("S", bound=msgspec.Struct)


class LazyField:
    """The attribute of one lazy field: decodes the slot's view on first read, then keeps it.

    Parameters
    ----------
    slot : member_descriptor
        The class's own slot descriptor for the field (where the value lives).
    field_type : type
        What the field decodes into.
    name : str
        ``Class.field``, for error messages.
    """

    __slots__ = ("_decoder", "_slot", "_type", "name")

    def __init__(self, slot: Any, field_type: Any, name: str) -> None:
        self._slot = slot
        self._type = field_type
        self.name = name
        self._decoder: msgspec.json.Decoder[Any] | None = None  # built on first use

    def __get__(self, obj: object, owner: type | None = None) -> Any:
        if obj is None:
            return self
        value = self._slot.__get__(obj, owner)
        if value.__class__ is _Raw:
            value = self._decode(obj, value)
        return value

    def __set__(self, obj: object, value: object) -> None:
        raise AttributeError(f"immutable type: '{type(obj).__name__}'")

    def __delete__(self, obj: object) -> None:
        raise AttributeError(f"immutable type: '{type(obj).__name__}'")

    def _decode(self, obj: object, raw: msgspec.Raw) -> Any:
        decoder = self._decoder
        if decoder is None:
            decoder = self._decoder = msgspec.json.Decoder(self._type)
        try:
            value = decoder.decode(raw)
        except msgspec.ValidationError as exc:
            problem = f"unexpected answer shape: {exc}"
        except RecursionError:
            problem = "answer is nested too deeply to decode"
        else:
            self._slot.__set__(obj, value)  # the view (and the body it holds) is let go
            return value
        del raw  # raised outside the handler, with no local holding the answer's bytes
        raise ResponseValidationError(f"{self.name}: {problem}")

    def __repr__(self) -> str:
        return f"LazyField({self.name})"


def lazy_fields(**field_types: Any) -> Callable[[type[S]], type[S]]:
    """Class decorator: the named fields (declared ``msgspec.Raw`` for the decoder) become
    ``LazyField`` s decoding into the given types; ``==``, ``hash`` and ``repr`` decode
    them first."""

    def apply(cls: type[S]) -> type[S]:
        for name, field_type in field_types.items():
            slot = cls.__dict__[name]
            setattr(cls, name, LazyField(slot, field_type, f"{cls.__name__}.{name}"))
        cls.__lazy_fields__ = tuple(field_types)  # type: ignore[attr-defined]
        cls.__eq__ = _eq  # type: ignore[method-assign]
        cls.__hash__ = _hash  # type: ignore[method-assign]
        cls.__repr__ = _repr  # type: ignore[method-assign]
        cls.__rich_repr__ = _rich_repr  # type: ignore[method-assign]
        return cls

    return apply


def _read_all(obj: Any) -> None:
    for name in obj.__lazy_fields__:
        getattr(obj, name)


def _eq(self: Any, other: Any) -> Any:
    _read_all(self)
    if type(other) is type(self):
        _read_all(other)
    return _native_eq(self, other)


def _hash(self: Any) -> int:
    _read_all(self)
    return _native_hash(self)


def _repr(self: Any) -> str:
    _read_all(self)
    return _native_repr(self)


def _rich_repr(self: Any) -> Any:
    _read_all(self)
    return _native_rich_repr(self)


def materialized(value: Any) -> Any:
    """``value`` after reading every lazy field in it (Structs, lists, tuples and dicts are
    walked), so ``msgspec.to_builtins()`` can convert it; returns ``value`` itself."""
    if isinstance(value, msgspec.Struct):
        if hasattr(value, "__lazy_fields__"):
            _read_all(value)
        for name in value.__struct_fields__:
            materialized(getattr(value, name))
    elif isinstance(value, (list, tuple)):
        for item in value:
            materialized(item)
    elif isinstance(value, dict):
        for item in value.values():
            materialized(item)
    return value
