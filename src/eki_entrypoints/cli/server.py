"""``eki serve`` and ``eki worker``: the long-running processes (web service, and the
worker that answers the inbox and sends the outbox)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import signal
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from types import FrameType
from typing import Any

from eki_entrypoints import loops
from eki_entrypoints.bootstrap import Eki, bootstrap
from eki_entrypoints.cli.common import EXIT_FAILURE, EXIT_OK, CliError, concurrency, open_eki
from eki_entrypoints.settings import Settings

#: uvicorn's exit status when the server could not start.
STARTUP_FAILURE = 3


def tune_gc() -> None:
    """Long-running processes: move what start-up created out of the collector's sight and
    collect the young generation less often (each turn allocates thousands of short-lived
    objects; the default threshold of 700 makes the collector run hundreds of times a
    second for nothing)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


async def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    with _stopped_by_signals() as received:
        from eki_entrypoints.worker import PipelineWorker

        tune_gc()
        # Metrics first: once the worker's heartbeat makes /readyz green, /metrics answers.
        async with (open_eki(settings, warm_model=True) as eki,
                    _metrics_server(eki, args.metrics_host, args.metrics_port)):
            worker = PipelineWorker(eki, concurrency=args.concurrency)
            try:
                await worker.start()
                print(f"eki worker running ({worker.concurrency} turns at once); Ctrl+C to stop.",
                      file=sys.stderr)
                await asyncio.Event().wait()
            finally:
                await worker.stop()
    return 128 + received[0] if received else EXIT_OK  # 130 for Ctrl+C, 143 for SIGTERM


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def _stopped_by_signals() -> Iterator[list[signal.Signals]]:
    """SIGINT and SIGTERM cancel the running command wherever it is, start-up included, so
    its ``finally`` blocks stop the worker and close the database; the signal received is
    appended to the list. A second signal ends the process at once.

    The handlers are the event loop's: they also replace a SIGINT inherited as ignored (a
    background job of a non-interactive shell), which asyncio would otherwise leave
    ignored, so Ctrl+C would never stop the worker."""
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    received: list[signal.Signals] = []

    def stop(sig: signal.Signals) -> None:
        if received:  # asked twice: do not wait for the clean stop
            signal.signal(sig, signal.SIG_DFL)
            signal.raise_signal(sig)
            return
        received.append(sig)
        task.cancel()

    previous = {sig: signal.getsignal(sig) for sig in STOP_SIGNALS}
    for sig in STOP_SIGNALS:
        loop.add_signal_handler(sig, stop, sig)
    try:
        yield received
    except asyncio.CancelledError:
        if not received or task.uncancel() > 0:
            raise
    finally:
        for sig, handler in previous.items():
            loop.remove_signal_handler(sig)
            if handler is not None:
                signal.signal(sig, handler)


@asynccontextmanager
async def _metrics_server(eki: Eki, host: str, port: int | None) -> AsyncIterator[None]:
    """A small HTTP server in the worker's event loop while the block runs: ``/metrics``
    and ``/healthz`` (nothing when ``port`` is None). Stopped, its connections closed,
    before the block's caller closes the database."""
    if port is None:
        yield
        return
    import uvicorn

    from eki_entrypoints.web.app import create_metrics_app

    class Server(uvicorn.Server):
        @contextmanager
        def capture_signals(self) -> Iterator[None]:
            # The worker's signals stop the whole worker (_stopped_by_signals), not just
            # this server.
            yield

    server = Server(uvicorn.Config(
        create_metrics_app(eki), host=host, port=port, log_config=None, access_log=False,
        lifespan="off", log_level=eki.settings.log_level.lower(), timeout_graceful_shutdown=5))

    async def serve() -> None:
        with suppress(SystemExit):  # uvicorn exits when it cannot start (port in use…)
            await server.serve()

    task = asyncio.create_task(serve(), name="eki-metrics-server")
    try:
        while not server.started:
            if task.done():
                task.result()  # raises the reason, if any
                raise CliError(f"the metrics server on {host}:{port} did not start",
                               EXIT_FAILURE)
            await asyncio.sleep(0.02)
        yield
    finally:
        server.should_exit = True
        with suppress(Exception):
            await task


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from eki_entrypoints.web import create_app

    async def prepare() -> None:
        eki = await bootstrap(settings, auto_upgrade=settings.is_sqlite)
        try:
            if not await eki.migrations_at_head():
                logging.getLogger("eki").warning(
                    "database schema is behind: run `eki db upgrade` (/readyz reports not ready)"
                )
        finally:
            await eki.aclose()

    loops.run(prepare(), settings.event_loop)
    tune_gc()
    logging.getLogger("eki").info(
        "serving on %s:%d: event loop %s, HTTP parser %s", args.host, args.port,
        loops.resolve(settings.event_loop), loops.http_parser())
    app = create_app(settings, run_worker=not args.no_worker,
                     worker_concurrency=args.concurrency)
    streams = app.state.event_streams

    class Server(uvicorn.Server):
        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            # Open live-event streams (GET /api/events, /admin/events) never end by
            # themselves: end them now, or the graceful shutdown would wait for them.
            streams.close_all()
            super().handle_exit(sig, frame)

    config = uvicorn.Config(
        app,
        host=args.host,
        port=args.port,
        log_level=settings.log_level.lower(),
        access_log=False,  # eki.access logs requests with phones masked
        proxy_headers=False,  # EKI_TRUSTED_PROXIES decides whom to believe
        loop=loops.resolve(settings.event_loop),
        http="auto",  # httptools when installed (a dependency), else h11
        log_config=None,  # uvicorn's records go through EKI's handlers (JSON lines)
    )
    server = Server(config)
    with suppress(KeyboardInterrupt):
        server.run()
    if not server.started:  # what uvicorn.run does: the port was taken, the app failed…
        sys.exit(STARTUP_FAILURE)
    return EXIT_OK


CONCURRENCY_HELP = ("conversation turns handled at once (default: 512 with a language model "
                    "configured, whose turns mostly wait on it; 32 with the rules only)")


def add_parser(sub: Any) -> None:
    """``sub`` is what ``ArgumentParser.add_subparsers()`` returned: adds ``serve`` and
    ``worker``."""
    serve = sub.add_parser("serve", help="run the web service (webhook, API, health checks)")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--no-worker", action="store_true",
                       help="only receive webhooks; answer with separate `eki worker` processes")
    serve.add_argument("--concurrency", type=concurrency, default=None,
                       help=CONCURRENCY_HELP)
    serve.set_defaults(handler=cmd_serve)

    worker = sub.add_parser("worker", help="answer the inbox and send the outbox (no HTTP)")
    worker.add_argument("--concurrency", type=concurrency, default=None,
                        help=CONCURRENCY_HELP)
    worker.add_argument("--metrics-port", type=int, default=None, metavar="PORT",
                        help="also serve this worker's GET /metrics (and /healthz) on PORT "
                        "(same token as the web app's /metrics)")
    worker.add_argument("--metrics-host", default="127.0.0.1", metavar="HOST",
                        help="address for --metrics-port (default 127.0.0.1)")
    worker.set_defaults(handler=cmd_worker)
