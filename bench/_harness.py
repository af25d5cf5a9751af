"""Shared helpers of the benchmarks: throwaway databases, child processes, the eki
environment, the cProfile summary and min–median–max formatting (bench_pipeline.py,
bench_llm.py, bench_crash.py)."""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

HERE = Path(__file__).resolve().parent
HOST = "127.0.0.1"
EXTRA_ENV: dict[str, str] = {}  # --eki-env

# -- databases ----------------------------------------------------------------------------


def conninfo(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def db_url(base: str, name: str) -> str:
    return make_url(base).set(database=name).render_as_string(hide_password=False)


class Databases:
    """Throwaway databases on one server, all dropped by :meth:`drop_all`."""

    def __init__(self, base_url: str, prefix: str) -> None:
        self.base = base_url
        self.prefix = prefix
        self.names: list[str] = []

    def create(self, suffix: str, template: str | None = None) -> str:
        name = f"{self.prefix}_{suffix}"
        self.names.append(name)
        sql = f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else "")
        with psycopg.connect(conninfo(self.base), autocommit=True) as admin:
            admin.execute(sql)
        return name

    def url(self, name: str) -> str:
        return db_url(self.base, name)

    def scalar(self, name: str, sql: str) -> Any:
        with psycopg.connect(conninfo(self.url(name))) as conn:
            row = conn.execute(sql).fetchone()
        return None if row is None else row[0]

    def rows(self, name: str, sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(conninfo(self.url(name))) as conn:
            return list(conn.execute(sql).fetchall())

    def drop_all(self) -> None:
        with psycopg.connect(conninfo(self.base), autocommit=True) as admin:
            for name in reversed(self.names):
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.names.clear()


# -- processes ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


class Processes:
    """Child processes with their output in log files; :meth:`stop` terminates then kills."""

    def __init__(self, logs: Path) -> None:
        self.logs = logs
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = (self.logs / f"{name}.log").open("wb")
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True, cwd=HERE.parent)
        log.close()
        self.running[name] = proc
        return proc

    def stop(self, name: str, grace: float = 10.0) -> int | None:
        proc = self.running.pop(name, None)
        if proc is None:
            return None
        if proc.poll() is None:
            # SIGINT, not SIGTERM: uvicorn shuts down gracefully on both, but re-raises
            # SIGTERM afterwards (the process dies before cProfile can write its file).
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=10)
        return proc.returncode

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name, grace=5.0)

    def tail(self, name: str, lines: int = 25) -> str:
        path = self.logs / f"{name}.log"
        if not path.exists():
            return ""
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def http_json(url: str, *, method: str = "GET", timeout: float = 5.0) -> Any:
    """GET/POST one of our own http://127.0.0.1 helpers."""
    data = b"" if method == "POST" else None
    request = urllib.request.Request(url, method=method, data=data)  # noqa: S310
    with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
        return json.loads(response.read())


def wait_ready(procs: Processes, name: str, url: str, timeout: float = 30.0) -> None:
    proc = procs.running[name]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited with {proc.returncode}:\n{procs.tail(name)}")
        try:
            http_json(url, timeout=1.0)
            return
        except (OSError, ValueError):
            time.sleep(0.1)
    raise RuntimeError(f"{name} not ready after {timeout:.0f} s:\n{procs.tail(name)}")


def base_env() -> dict[str, str]:
    """The caller's environment without any EKI_/OPENAI_ setting that could leak in."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("EKI_", "OPENAI_")) and k not in ("PYTHONPATH",)}


def eki_env(url: str, secret: str, **extra: str) -> dict[str, str]:
    env = base_env()
    env.update(EKI_DATABASE_URL=url, EKI_WHATSAPP_APP_SECRET=secret, EKI_LOG_LEVEL="WARNING",
               **extra)
    env.update(EXTRA_ENV)
    return env


def mmm(values: list[float | None], spec: str = ".0f") -> str:
    """``min–median–max`` of the runs (``n/a`` when none)."""
    got = sorted(v for v in values if v is not None)
    if not got:
        return "n/a"
    return "–".join(format(v, spec) for v in (got[0], statistics.median(got), got[-1]))


# -- profile summary ----------------------------------------------------------------------


PACKAGES = ("sqlalchemy", "psycopg", "starlette", "uvicorn", "h11", "httpx2", "httpcore2",
            "httpcore", "anyio", "greenlet", "tenacity", "attrs", "eki_domain", "eki_adapters",
            "eki_entrypoints", "asyncio", "json", "logging")


def _package(filename: str, func: str) -> str:
    if filename == "~":  # a builtin: name it by what it is
        if "epoll" in func or "select" in func:
            return "(idle: waiting in epoll)"
        if "greenlet" in func:
            return "greenlet"
        if "socket" in func:
            return "(socket calls)"
        return "(other builtins)"
    parts = Path(filename).parts
    for package in PACKAGES:
        if package in parts:
            return package
    return "(other python)"


def profile_summary(path: Path, top: int = 15) -> dict[str, list[str]]:
    """Self time by package and the top functions by self time. (Cumulative times of
    coroutines are meaningless under cProfile: every resume counts the wait again.)"""
    import pstats

    if not path.exists():
        return {}
    stats = pstats.Stats(str(path)).stats  # type: ignore[attr-defined]
    total = sum(entry[2] for entry in stats.values())
    by_package: Counter[str] = Counter()
    for (filename, _line, func), (_cc, _nc, tt, _ct, _callers) in stats.items():
        by_package[_package(filename, func)] += tt
    busy = total - by_package.get("(idle: waiting in epoll)", 0.0)
    packages = [f"{tt:7.2f}s {100 * tt / busy if busy else 0:5.1f}% of busy  {name}"
                for name, tt in by_package.most_common(15) if not name.startswith("(idle")][:14]
    functions = []
    for (filename, line, func), (_cc, nc, tt, _ct, _callers) in sorted(
            stats.items(), key=lambda kv: kv[1][2], reverse=True)[:top]:
        short = "/".join(Path(filename).parts[-2:]) if filename != "~" else ""
        functions.append(f"{tt:7.2f}s self {nc:>9} calls  {short}:{line}({func})")
    return {"profiled_s": [f"{total:.2f}", f"{busy:.2f}"], "by_package": packages,
            "by_self": functions}


def fmt(value: float | None, spec: str = ".1f") -> str:
    return "n/a" if value is None else format(value, spec)


def ok(flag: bool) -> str:
    return "OK" if flag else "MISSED"


def _interrupt(signum: int, _frame: object) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


