"""SqlUnitOfWork makes its repositories on first use, bound to its connection of the moment."""

from __future__ import annotations

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from eki_adapters.sql.students import SqlStudentRepository
from eki_adapters.sql.uow import SqlUnitOfWork


async def test_repositories_are_made_on_use_and_dropped_at_exit(engine: AsyncEngine) -> None:
    uow = SqlUnitOfWork(engine)
    with pytest.raises(RuntimeError, match="async with"):
        _ = uow.students
    async with uow:
        first = uow.students
        assert isinstance(first, SqlStudentRepository)
        assert uow.students is first  # made once per unit of work
        assert "students" in vars(uow) and "outbox" not in vars(uow)
        assert await uow.students.count() == 0
    assert "students" not in vars(uow)  # bound to the closed connection: gone
    with pytest.raises(RuntimeError, match="async with"):
        _ = uow.students
    async with uow:  # used again: a new repository on the new connection
        assert uow.students is not first
        assert await uow.students.count() == 0


async def test_a_connection_left_out_fails_the_test_that_left_it(engine: AsyncEngine) -> None:
    """The harness's check at the end of every test with ``engine`` or ``uow_factory``."""
    from tests.conftest import _nothing_checked_out

    _nothing_checked_out(engine)
    uow = SqlUnitOfWork(engine)
    await uow.__aenter__()  # entered and not left: a task still holding its connection
    with pytest.raises(AssertionError, match="1 database connection"):
        _nothing_checked_out(engine)
    await uow.__aexit__(None, None, None)
    _nothing_checked_out(engine)
