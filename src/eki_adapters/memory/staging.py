"""Copy-on-write state shared by the in-memory repositories of one store."""

from __future__ import annotations

import copy
from typing import Generic, TypeVar

S = TypeVar("S")


class Staged(Generic[S]):
    """Copy-on-first-use of a shared state; ``apply`` publishes the copy (commit)."""

    def __init__(self, holder: list[S]) -> None:
        self._holder = holder
        self._work: S | None = None

    @property
    def state(self) -> S:
        if self._work is None:
            self._work = copy.deepcopy(self._holder[0])
        return self._work

    def apply(self) -> None:
        if self._work is not None:
            self._holder[0] = self._work
            self._work = None

    def discard(self) -> None:
        self._work = None
