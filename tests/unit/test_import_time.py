"""Nothing happens at import time: every module of the four packages imports in a fresh
interpreter where reading the environment, opening files, touching the network, starting
threads or creating a database engine raises."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent('''
    import builtins, importlib, os, pkgutil, socket, sys, threading

    # Third-party libraries may read their own settings when first imported: load them
    # before the poison, so only EKI's own modules are judged.
    for lib in ("attrs", "phonenumbers", "sqlalchemy", "sqlalchemy.ext.asyncio", "psycopg",
                "aiosqlite", "alembic", "alembic.config", "alembic.command", "openai",
                "httpx2", "starlette", "starlette.applications", "starlette.testclient",
                "uvicorn", "openpyxl", "python_calamine", "tenacity", "cachetools", "anyio",
                "pytest", "multipart", "prometheus_client", "jinja2"):
        try:
            importlib.import_module(lib)
        except ImportError:
            pass

    class Poison(Exception):
        pass

    def forbid(what):
        def raiser(*args, **kwargs):
            raise Poison(f"{what} at import time")
        return raiser

    class PoisonedEnviron(dict):
        def __getitem__(self, key): raise Poison(f"os.environ[{key!r}] read at import time")
        def get(self, key, default=None): raise Poison(f"os.environ.get({key!r}) at import time")
        def __contains__(self, key): raise Poison(f"{key!r} in os.environ at import time")
        def __iter__(self): raise Poison("os.environ iterated at import time")

    import sqlalchemy, sqlalchemy.ext.asyncio
    sqlalchemy.create_engine = forbid("sqlalchemy.create_engine")
    sqlalchemy.ext.asyncio.create_async_engine = forbid("create_async_engine")
    os.environ = PoisonedEnviron()
    os.getenv = forbid("os.getenv")
    builtins.open = forbid("open()")
    socket.socket.connect = forbid("socket.connect")
    socket.create_connection = forbid("socket.create_connection")
    socket.getaddrinfo = forbid("socket.getaddrinfo")
    threading.Thread.start = forbid("Thread.start")

    # alembic scripts, run by alembic only; the harness's deprecated alias (warns on import)
    skipped = ("eki_adapters.sql.migrations", "eki_entrypoints.testing")
    count = 0
    for root in ("eki_domain", "eki_adapters", "eki_entrypoints", "eki_testing"):
        package = importlib.import_module(root)
        count += 1
        for info in pkgutil.walk_packages(package.__path__, root + "."):
            if info.name.startswith(skipped):
                continue
            importlib.import_module(info.name)
            count += 1
    print(count)
''')


def test_every_module_imports_without_io() -> None:
    done = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                          timeout=120, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    assert int(done.stdout.strip()) > 60  # every module was really imported
