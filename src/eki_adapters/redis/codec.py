"""JSON for frozen attrs classes (the progress report), so Redis holds data, never code.

:class:`AttrsJsonCodec` encodes an attrs instance with ``attrs.asdict`` and decodes it by
walking the class's resolved field types: attrs classes, ``tuple[X, ...]``, ``X | None``,
dates, enums and plain scalars. Anything it cannot rebuild raises :class:`ValueError`
(the cache treats that as a miss).
"""

from __future__ import annotations

import enum
import json
import types
import typing
from datetime import date
from typing import Any, Generic, TypeVar

import attrs

T = TypeVar("T")


def _plain(_inst: Any, _field: Any, value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, date):
        return value.isoformat()
    return value


class AttrsJsonCodec(Generic[T]):
    """Encodes and decodes instances of ``cls`` (an attrs class) as JSON bytes."""

    def __init__(self, cls: type[T]) -> None:
        if not attrs.has(cls):
            raise TypeError(f"{cls!r} is not an attrs class")
        self.cls = cls

    def encode(self, value: object) -> bytes:
        if not isinstance(value, self.cls):
            raise TypeError(f"expected {self.cls.__name__}, got {type(value).__name__}")
        data = attrs.asdict(value, recurse=True,
                            value_serializer=_plain)
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False).encode()

    def decode(self, raw: bytes) -> T:
        try:
            built: T = _build(self.cls, json.loads(raw))
        except (TypeError, KeyError, AttributeError) as exc:
            raise ValueError(f"not a stored {self.cls.__name__}: {exc}") from exc
        return built


def _build(tp: Any, data: Any) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if data is None and type(None) in args:
            return None
        others = [a for a in args if a is not type(None)]
        if len(others) != 1:
            raise TypeError(f"unsupported union {tp!r}")
        return _build(others[0], data)
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_build(args[0], item) for item in data)
        return tuple(_build(arg, item) for arg, item in zip(args, data, strict=True))
    if isinstance(tp, type) and attrs.has(tp):
        if not isinstance(data, dict):
            raise TypeError(f"{tp.__name__} needs an object")
        hints = typing.get_type_hints(tp)
        return tp(**{field.alias: _build(hints[field.name], data[field.name])
                     for field in attrs.fields(tp) if field.init})
    if tp is date:
        return date.fromisoformat(data)
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        return tp(data)
    if tp is float and isinstance(data, int | float) and not isinstance(data, bool):
        return float(data)
    if tp in (int, str, bool) and type(data) is tp:
        return data
    raise TypeError(f"cannot read {type(data).__name__} as {tp!r}")
