"""Pages of results for listings."""

from __future__ import annotations

from typing import Generic, TypeVar

import attrs

T = TypeVar("T")

MAX_PAGE_SIZE = 500


@attrs.frozen
class PageRequest:
    """Which slice of a listing to return (offset pagination, newest first)."""

    limit: int = attrs.field(default=50)
    offset: int = attrs.field(default=0)

    @limit.validator
    def _check_limit(self, _attr: object, value: int) -> None:
        if not 1 <= value <= MAX_PAGE_SIZE:
            raise ValueError(f"limit must be between 1 and {MAX_PAGE_SIZE}, got {value}")

    @offset.validator
    def _check_offset(self, _attr: object, value: int) -> None:
        if value < 0:
            raise ValueError(f"offset must be >= 0, got {value}")


@attrs.frozen
class Page(Generic[T]):
    items: tuple[T, ...]
    total: int
    limit: int
    offset: int

    @property
    def has_more(self) -> bool:
        return self.offset + len(self.items) < self.total
