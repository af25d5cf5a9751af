"""HTTP load from ``wrk`` (Debian package ``wrk``) for the benchmarks.

A Python load generator on this kind of machine saturates a core at ~600 requests/s and
competes with the server it measures; ``wrk`` (C, epoll, LuaJIT) drives the same reference
app to several thousand requests/s at a few percent of a core. HMAC signing cannot run in
wrk's Lua, so the bench writes every request beforehand: one line per request in a bodies
file, ``<X-Hub-Signature-256 value>\\t<JSON body>`` (Meta bodies are compact ASCII JSON: no tab,
no newline). Thread ``i`` of ``t`` takes lines ``i, i+t, …`` (distinct across threads):

* ``mode=duration``: round-robin over its lines for ``-d`` seconds (a line sent twice is a
  duplicate delivery: the report says when the file was too short);
* ``mode=once``: each line exactly once, then its connections idle (``delay()``) until the
  bench stops wrk with SIGINT, which prints the summary as usual.

Each thread touches ``<marker>.<i>`` once it has read its lines (:meth:`WrkRun.wait_ready`:
the bench starts its CPU windows then, so wrk's start-up is outside them). ``done()`` prints
one ``WRK_JSON {…}`` line; :meth:`WrkRun.finish` parses it and adds wrk's own CPU after
start-up (its rusage, reaped with ``os.wait4``, minus what it had used when ready).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

LUA = r"""
local counter = 0
function setup(thread)
  thread:set("thread_index", counter)
  counter = counter + 1
end

function init(args)
  local file, threads, path = args[1], tonumber(args[2]), args[4]
  once = args[3] == "once"
  requests = {}
  local i = 0
  for line in io.lines(file) do
    if i % threads == thread_index then
      local tab = line:find("\t", 1, true)
      requests[#requests + 1] = wrk.format("POST", path, {
        ["Content-Type"] = "application/json",
        ["User-Agent"] = "facebookexternalua",
        ["X-Hub-Signature-256"] = line:sub(1, tab - 1),
      }, line:sub(tab + 1))
    end
    i = i + 1
  end
  -- tell the bench this thread is loaded (wrk starts its clock once every thread is)
  local marker = io.open(args[5] .. "." .. thread_index, "w")
  marker:close()
  -- wrk calls request() once on thread 0 before the run, to verify it (script_verify_request):
  -- start that thread one step back so its first line is still sent
  sent = thread_index == 0 and -1 or 0
  if once then
    -- each connection asks delay() before each request: hand out exactly #requests slots,
    -- then idle until the bench stops wrk (wrk only looks for delay() when it is defined,
    -- so the duration mode keeps wrk's fast path)
    local claimed = 0
    delay = function()
      if claimed >= #requests then
        return 3600000
      end
      claimed = claimed + 1
      return 0
    end
  end
end

function request()
  sent = sent + 1
  return requests[((sent - 1) % #requests) + 1]  -- Lua's % is never negative
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"status":%d,"timeout":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"mean_us":%.1f}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, latency.mean))
end
"""

MISSING = ("wrk is not installed: the HTTP load of this benchmark comes from wrk (a Python "
           "load generator is slower than the server it measures). Install it with "
           "`apt-get update && apt-get install -y wrk` (Debian/Ubuntu) or see "
           "https://github.com/wg/wrk, then run the benchmark again.")


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (Linux /proc)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def require_wrk() -> str:
    """The path of ``wrk``; exits with a clear message when it is missing."""
    path = shutil.which("wrk")
    if path is None:
        raise SystemExit(MISSING)
    return path


def write_bodies(path: Path, signed: Iterable[tuple[str, bytes]]) -> int:
    """One ``signature\\tbody`` line per request; returns the count."""
    count = 0
    with path.open("wb") as out:
        for signature, body in signed:
            if b"\n" in body or b"\t" in body:
                raise ValueError("a body with a tab or newline cannot go in the bodies file")
            out.write(signature.encode() + b"\t" + body + b"\n")
            count += 1
    return count


class WrkRun:
    """One wrk process: :meth:`finish` waits (duration mode) or stops it (once mode)."""

    def __init__(self, workdir: Path, url: str, bodies: Path, *, connections: int,
                 threads: int = 2, seconds: float = 10.0, once: bool = False,
                 timeout_s: float = 10.0, log_name: str = "wrk") -> None:
        wrk = require_wrk()
        script = workdir / "post_bodies.lua"
        if not script.exists():
            script.write_text(LUA)
        parts = urlsplit(url)
        threads = max(1, min(threads, connections))
        duration = 3600 if once else max(1, round(seconds))
        if once:  # wrk counts idle connections as timeouts after --timeout: keep them out
            # (not more: wrk allocates its latency histogram for --timeout, 8 bytes a µs)
            timeout_s = max(timeout_s, 120.0)
        self.log = workdir / f"{log_name}.log"
        self.marker = workdir / f"{log_name}.ready"
        self.threads = threads
        self.cpu_at_ready = 0.0
        self.argv = [wrk, "-t", str(threads), "-c", str(connections), "-d", f"{duration}s",
                     "--timeout", f"{timeout_s:g}s", "-s", str(script),
                     f"{parts.scheme}://{parts.netloc}/", "--", str(bodies), str(threads),
                     "once" if once else "duration", parts.path or "/", str(self.marker)]
        self.started = time.monotonic()
        with self.log.open("wb") as out:
            self.proc = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL)

    def running(self) -> bool:
        return self.proc.poll() is None

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until every wrk thread has read the bodies file: the load starts right after, so
        CPU windows started now cover the load, not wrk's start-up."""
        deadline = time.monotonic() + timeout
        markers = [Path(f"{self.marker}.{i}") for i in range(self.threads)]
        while time.monotonic() < deadline:  # bounded by timeout
            if all(m.exists() for m in markers):
                self.cpu_at_ready = _cpu_seconds(self.proc.pid)
                self.started = time.monotonic()
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.005)
        raise RuntimeError(f"wrk did not start (exit {self.proc.poll()}):\n"
                           + self.log.read_text(errors="replace")[-2000:])

    def finish(self, *, stop: bool = False, timeout: float = 60.0) -> dict[str, Any]:
        """Wait for wrk (``stop``: SIGINT it first), return its summary and CPU."""
        if stop and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
        deadline = time.monotonic() + timeout
        status, usage = None, None
        while time.monotonic() < deadline:  # bounded by timeout
            pid, status, usage = os.wait4(self.proc.pid, os.WNOHANG)
            if pid:
                break
            time.sleep(0.02)
        else:
            self.proc.kill()
            _pid, status, usage = os.wait4(self.proc.pid, 0)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        elapsed = time.monotonic() - self.started
        text = self.log.read_text(errors="replace")
        line = next((ln for ln in text.splitlines() if ln.startswith("WRK_JSON ")), None)
        if line is None:
            raise RuntimeError(f"wrk printed no summary (exit {self.proc.returncode}):\n"
                               f"{' '.join(self.argv)}\n{text[-2000:]}")
        out: dict[str, Any] = json.loads(line.split(" ", 1)[1])
        # wrk's CPU once loaded (reading the bodies file before the run is not load work)
        out["cpu_s"] = usage.ru_utime + usage.ru_stime - self.cpu_at_ready
        out["wall_s"] = elapsed
        duration = out["duration_us"] / 1e6
        out["ok"] = out["requests"] - out["status"]
        out["per_s"] = out["ok"] / duration if duration else 0.0
        out["cpu_pct"] = 100 * out["cpu_s"] / elapsed if elapsed else 0.0
        out["errors"] = {k: out[k] for k in ("connect", "read", "write", "timeout") if out[k]}
        for key in ("p50", "p90", "p99", "max"):
            out[f"{key}_ms"] = out[f"{key}_us"] / 1000
        return out
