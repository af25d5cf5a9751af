"""SqlUnitOfWork makes its repositories on first use, bound to its connection of the moment."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from eki_adapters.sql.students import SqlStudentRepository
from eki_adapters.sql.uow import SqlUnitOfWork
from eki_entrypoints.bootstrap import bootstrap
from eki_entrypoints.settings import Settings


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


async def test_closing_eki_with_a_connection_in_use_says_so(database_url: str,
                                                           closed_in_use: Any) -> None:
    """A task still holding a connection as the Eki closes (it outlived it) is logged, and
    the harness fails such a test unless it takes the warning, as here."""
    eki = await bootstrap(Settings(database_url=database_url))
    uow = eki.uow()
    await uow.__aenter__()  # a unit of work still open: a task that was not waited for
    try:
        await eki.aclose()
    finally:  # its pool is gone: close the connection rather than hand it back
        await uow.connection.invalidate()
        await uow.__aexit__(None, None, None)
    assert closed_in_use.take() == [
        "closing EKI with 1 database connection(s) still in use: a task of this process is "
        "still running"]
    closed = await bootstrap(Settings(database_url=database_url))
    async with closed.uow() as uow:
        await uow.students.count()
    await closed.aclose()  # every connection back: nothing said
    assert closed_in_use.take() == []
