"""Real EKI processes for integration tests: a free port and `eki serve` ready to answer."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2

EKI = str(Path(sys.executable).with_name("eki"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Served:
    """A running `eki serve`: its base URL, process and log (stdout and stderr)."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")


@contextmanager
def eki_serve(workdir: Path, env: Mapping[str, str], *args: str,
              timeout: float = 30.0) -> Iterator[Served]:
    """`eki serve --port P [args]` in ``workdir``; yields once ``/healthz`` answers (or fails
    with the server's output); terminated and awaited on exit."""
    port = free_port()
    log = workdir / f"eki-serve-{port}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen([EKI, "serve", "--port", str(port), *args], cwd=workdir,
                                   env=dict(env), stdout=sink, stderr=subprocess.STDOUT)
    served = Served(f"http://127.0.0.1:{port}", process, log)
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                httpx2.get(f"{served.url}/healthz", timeout=1)
                break
            except httpx2.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(
                        f"eki serve did not start:\n{served.output()}") from None
                time.sleep(0.1)
        yield served
    finally:
        process.terminate()
        process.wait(timeout=15)
