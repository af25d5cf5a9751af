"""The ``eki`` command line.

User errors (bad input, unknown student, bad settings) print one line on
stderr and exit 2; an unreachable database exits 1. Never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import signal
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from pathlib import Path
from typing import Any

import attrs
import phonenumbers
from sqlalchemy.exc import DBAPIError, OperationalError

from eki_adapters.spreadsheets import CalamineSpreadsheetReader
from eki_adapters.spreadsheets.errors_file import errors_format_for, write_errors_file
from eki_domain import __version__
from eki_domain.errors import EkiError
from eki_domain.model.gradebook import ProgressKind
from eki_domain.model.imports import (
    ImportMode,
    ImportReport,
    ImportStatus,
    Severity,
)
from eki_domain.model.pagination import MAX_PAGE_SIZE, PageRequest
from eki_domain.model.student import Student
from eki_domain.ports.channel import MessageChannel
from eki_domain.services.imports import ImportService
from eki_entrypoints import loops
from eki_entrypoints.bootstrap import Eki, bootstrap
from eki_entrypoints.intents_cli import register as add_intents_parser
from eki_entrypoints.logs import configure_logging
from eki_entrypoints.oneroster_cli import add_parser as add_oneroster_parser
from eki_entrypoints.serialize import student_page_to_dict, student_to_dict
from eki_entrypoints.settings import Settings, SettingsError

CLI_MAX_IMPORT_BYTES = 2 * 1024**3
EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2


class CliError(Exception):
    """A one-line message for the person at the terminal, with an exit code."""

    def __init__(self, message: str, exit_code: int = EXIT_USAGE) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@asynccontextmanager
async def _open(settings: Settings, *, channel: MessageChannel | None = None
                ) -> AsyncIterator[Eki]:
    """Bootstrap for a CLI command: embedded SQLite is migrated on the fly,
    a server database must already be at the latest schema."""
    eki = await bootstrap(settings, auto_upgrade=settings.is_sqlite, channel=channel)
    try:
        if not settings.is_sqlite and not await eki.migrations_at_head():
            raise CliError("the database schema is not up to date: run `eki db upgrade` first")
        yield eki
    finally:
        await eki.aclose()


def _print_json(data: Any) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))


def _describe(student: Student) -> str:
    tags = ", ".join(sorted(student.tags)) or "—"
    return "\n".join(
        [
            f"Nombre:      {student.name}",
            f"Teléfono:    {student.phone.e164} ({student.phone.region}, {student.phone.kind})",
            f"Activo:      {'sí' if student.active else 'no'}",
            f"Registrado:  {student.registered_at:%Y-%m-%d %H:%M} UTC",
            f"Etiquetas:   {tags}",
        ]
    )


# -- commands -----------------------------------------------------------------------------


async def cmd_db_upgrade(settings: Settings, _args: argparse.Namespace) -> int:
    from eki_adapters.sql import create_engine, upgrade

    engine = create_engine(settings.database_url)
    try:
        before, after = await upgrade(engine)
    finally:
        await engine.dispose()
    if before == after:
        print(f"Database {settings.safe_database_url()} already at revision {after}.")
    else:
        print(f"Database {settings.safe_database_url()} upgraded: {before or 'empty'} → {after}.")
    return EXIT_OK


async def cmd_db_status(settings: Settings, _args: argparse.Namespace) -> int:
    from eki_adapters.sql import create_engine, current_revision, head_revision

    engine = create_engine(settings.database_url)
    try:
        current = await current_revision(engine)
    finally:
        await engine.dispose()
    head = head_revision()
    state = "up to date" if current == head else "behind: run `eki db upgrade`"
    print(f"Database {settings.safe_database_url()}: revision {current or 'none'}, "
          f"latest {head} ({state}).")
    return EXIT_OK if current == head else EXIT_FAILURE


async def cmd_students_add(settings: Settings, args: argparse.Namespace) -> int:
    async with _open(settings) as eki:
        student = await eki.registration.register(
            args.name, args.phone, tags=args.tag or (), active=not args.inactive
        )
    if args.json:
        _print_json(student_to_dict(student))
    else:
        print(f"Estudiante registrado (id {student.id}).")
        print(_describe(student))
        for warning in student.phone.warnings:
            print(f"Aviso: {warning.message}", file=sys.stderr)
    return EXIT_OK


async def cmd_students_show(settings: Settings, args: argparse.Namespace) -> int:
    async with _open(settings) as eki:
        student = await eki.registration.find(args.phone)
    if args.json:
        _print_json(student_to_dict(student))
    else:
        print(_describe(student))
    return EXIT_OK


async def cmd_students_list(settings: Settings, args: argparse.Namespace) -> int:
    active = True if args.active else False if args.inactive else None
    async with _open(settings) as eki:
        page = await eki.registration.list(
            tag=args.tag, active=active, page=PageRequest(limit=args.limit, offset=args.offset)
        )
    if args.json:
        _print_json(student_page_to_dict(page))
        return EXIT_OK
    if not page.items:
        print("No hay estudiantes que coincidan.")
        return EXIT_OK
    for s in page.items:
        tags = ",".join(sorted(s.tags))
        print(f"{s.phone.e164:<16} {'activo  ' if s.active else 'inactivo'} {s.name}"
              + (f"  [{tags}]" if tags else ""))
    shown_to = page.offset + len(page.items)
    print(f"— {page.offset + 1}–{shown_to} de {page.total}"
          + (f" (siguiente página: --offset {shown_to})" if page.has_more else ""))
    return EXIT_OK


async def _update(settings: Settings, args: argparse.Namespace, **changes: Any) -> int:
    async with _open(settings) as eki:
        student = await eki.registration.update(args.phone, **changes)
    if getattr(args, "json", False):
        _print_json(student_to_dict(student))
    else:
        print(_describe(student))
    return EXIT_OK


async def cmd_students_update(settings: Settings, args: argparse.Namespace) -> int:
    changes: dict[str, Any] = {}
    if args.name is not None:
        changes["name"] = args.name
    if args.new_phone is not None:
        changes["new_phone"] = args.new_phone
    if args.tag is not None:
        changes["tags"] = args.tag
    if args.active:
        changes["active"] = True
    elif args.inactive:
        changes["active"] = False
    if not changes:
        raise CliError("nothing to change: give --name, --new-phone, --tag, --active or --inactive")
    return await _update(settings, args, **changes)


async def cmd_students_activate(settings: Settings, args: argparse.Namespace) -> int:
    return await _update(settings, args, active=True)


async def cmd_students_deactivate(settings: Settings, args: argparse.Namespace) -> int:
    return await _update(settings, args, active=False)


async def cmd_students_tag(settings: Settings, args: argparse.Namespace) -> int:
    async with _open(settings) as eki:
        if args.remove:
            student = await eki.registration.untag(args.phone, *args.tags)
        else:
            student = await eki.registration.tag(args.phone, *args.tags)
    print(_describe(student))
    return EXIT_OK


class _ProgressBar:
    """A one-line progress bar on stderr, only when stderr is a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._last = -1

    def __call__(self, stage: str, done: int, total: int) -> None:
        if not self.enabled or total <= 0:
            return
        percent = min(100, done * 100 // total)
        if percent == self._last:
            return
        self._last = percent
        label = "validando" if stage == "validating" else "guardando"
        bar = "#" * (percent // 4)
        sys.stderr.write(f"\r{label:<10} [{bar:<25}] {percent:3d}% ({done}/{total})")
        if stage == "writing" and done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _print_report(report: ImportReport, limit: int = 20) -> None:
    print(report.message)
    print(f"Archivo: {report.file} (sha256 {report.sha256[:12]}…), "
          f"{report.errors} error(es), {report.warnings} aviso(s), {report.duration_ms} ms.")
    for issue in report.issues[:limit]:
        where = f"Fila {issue.row}" + (f", columna «{issue.column}»" if issue.column else "")
        kind = "ERROR" if issue.severity is Severity.ERROR else "aviso"
        print(f"  {kind:<5} {where}: {issue.message}")
    if len(report.issues) > limit:
        print(f"  … y {len(report.issues) - limit} más (use --json o --errors-out para verlos "
              "todos).")


def _read_input(path_text: str) -> tuple[bytes, str]:
    path = Path(path_text)
    try:
        return path.read_bytes(), path.name
    except FileNotFoundError:
        raise CliError(f"file not found: {path_text}") from None
    except IsADirectoryError:
        raise CliError(f"{path_text} is a folder, not a file") from None
    except PermissionError:
        raise CliError(f"cannot read {path_text}: permission denied") from None


async def _import_file(settings: Settings, args: argparse.Namespace, *, target: str) -> int:
    """Shared by `eki students import` and `eki progress import`: same reader, modes,
    report, errors file and exit codes."""
    data, name = await asyncio.to_thread(_read_input, args.file)
    mode = ImportMode.STRICT if args.strict else ImportMode.DEFAULT
    async with _open(settings) as eki:
        service: ImportService = eki.student_import if target == "students" else \
            eki.progress_import
        # A local file may be far larger than an upload (a school year of grades):
        # the 50 MB limit protects the web server, not the command line.
        reader = CalamineSpreadsheetReader(max_bytes=CLI_MAX_IMPORT_BYTES)
        sheet = await service.load(lambda: reader.read(data, name), filename=name,
                                   content=data, mode=mode, dry_run=args.dry_run)
        progress = _ProgressBar(sys.stderr.isatty() and len(sheet.rows) > 2000)
        if target == "students":
            result = await eki.student_import.import_sheet(
                sheet, mode=mode, dry_run=args.dry_run, region=args.country, progress=progress)
        else:
            result = await eki.progress_import.import_sheet(
                sheet, kind=None if args.kind is None else ProgressKind(args.kind), mode=mode,
                dry_run=args.dry_run, region=args.country, progress=progress)
    report = result.report
    if args.errors_out:
        if result.failed_rows:
            out = Path(args.errors_out)
            content = write_errors_file(result.headers, result.failed_rows,
                                        errors_format_for(out))
            await asyncio.to_thread(out.write_bytes, content)
            print(f"Filas con errores guardadas en {out} ({len(result.failed_rows)}): "
                  "corríjalas y vuelva a importar ese archivo.", file=sys.stderr)
        else:
            print("No hay filas con errores: no se escribió archivo de errores.",
                  file=sys.stderr)
    if args.json:
        _print_json(report.as_dict())
    else:
        _print_report(report)
    return EXIT_FAILURE if report.status is ImportStatus.REJECTED else EXIT_OK


async def cmd_students_import(settings: Settings, args: argparse.Namespace) -> int:
    with _no_gc():
        return await _import_file(settings, args, target="students")


async def cmd_progress_import(settings: Settings, args: argparse.Namespace) -> int:
    with _no_gc():
        return await _import_file(settings, args, target="progress")


def _tune_gc() -> None:
    """Long-running processes: move what start-up created out of the collector's sight and
    collect the young generation less often (each turn allocates thousands of short-lived
    objects; the default threshold of 700 makes the collector run hundreds of times a
    second for nothing)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


@contextmanager
def _no_gc() -> Iterator[None]:
    """An import allocates millions of short-lived, acyclic objects: the cyclic garbage
    collector would scan them again and again (~10-15% of the run) and find nothing.
    The one-shot CLI process pauses it; reference counting still frees memory."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


async def cmd_imports_list(settings: Settings, args: argparse.Namespace) -> int:
    async with _open(settings) as eki, eki.uow() as uow:
        records = await uow.imports.recent(kind=args.kind, limit=args.limit)
    if args.json:
        _print_json([
            {**attrs.asdict(r, recurse=False), "finished_at": r.finished_at.isoformat()}
            for r in records
        ])
        return EXIT_OK
    if not records:
        print("Todavía no hay importaciones.")
    for r in records:
        print(f"#{r.id:<5} {r.finished_at:%Y-%m-%d %H:%M} {r.kind:<9} {r.status:<9} "
              f"{r.file}  leídas {r.rows_read}, creadas {r.created}, actualizadas {r.updated}, "
              f"sin cambios {r.unchanged}, errores {r.errors}")
    return EXIT_OK


async def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    with _stopped_by_signals() as received:
        from eki_entrypoints.worker import PipelineWorker

        _tune_gc()
        # Metrics first: once the worker's heartbeat makes /readyz green, /metrics answers.
        async with (_open(settings) as eki,
                    _metrics_server(eki, args.metrics_host, args.metrics_port)):
            worker = PipelineWorker(eki, concurrency=args.concurrency)
            try:
                await worker.start()
                print(f"eki worker running ({args.concurrency} turns at once); Ctrl+C to stop.",
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


async def cmd_chat(settings: Settings, args: argparse.Namespace) -> int:
    from eki_adapters.whatsapp import ConsoleChannel
    from eki_entrypoints.chat import ChatSession

    channel = ConsoleChannel(name="cli")
    async with _open(settings, channel=channel) as eki:
        session = await ChatSession.open(eki, channel, args.phone)
        if args.message is not None:
            answer = await session.say(args.message)
            if args.json:
                _print_json({"reply": answer.reply, "intent": answer.intent,
                             "tools": list(answer.tools)})
            else:
                print(answer.reply)
            return EXIT_OK
        print(f"Chateando como {session.label}. Escribe /salir para terminar.", file=sys.stderr)
        while True:
            try:
                line = await asyncio.to_thread(input, "> ")
            except EOFError:
                return EXIT_OK
            if line.strip().lower() in {"/salir", "/exit", "/quit"}:
                return EXIT_OK
            if not line.strip():
                continue
            answer = await session.say(line)
            print(answer.reply or "(sin respuesta)")
    return EXIT_OK  # pragma: no cover - the loop only ends by returning


async def cmd_demo(settings: Settings, args: argparse.Namespace) -> int:
    from eki_adapters.whatsapp import ConsoleChannel
    from eki_entrypoints.demo import run_demo

    for name in ("eki.conversation", "eki.delivery", "eki.channel.console"):
        logging.getLogger(name).setLevel(logging.WARNING)
    channel = ConsoleChannel(name="cli")
    async with _open(settings, channel=channel) as eki:
        await run_demo(eki, channel, print)
    return EXIT_OK


async def cmd_handoff_release(settings: Settings, args: argparse.Namespace) -> int:
    async with _open(settings) as eki:
        student = await eki.registration.find(args.phone)
        assert student.id is not None
        released = await eki.conversation.release_handoff(student.id, by="cli")
    print("El asistente vuelve a responder a " + student.name + "." if released else
          f"{student.name} no tenía una conversación con un asesor abierta.")
    return EXIT_OK


async def cmd_handoff_list(settings: Settings, args: argparse.Namespace) -> int:
    async with _open(settings) as eki, eki.uow() as uow:
        open_ = await uow.conversations.open_handoffs()
        names = {sid: await uow.students.get(sid) for sid, _, _ in open_}
    if not open_:
        print("No hay conversaciones esperando a un asesor.")
    for sid, _wa_id, at in open_:
        student = names.get(sid)
        label = f"{student.name} ({student.phone.e164})" if student else f"id {sid}"
        print(f"{at:%Y-%m-%d %H:%M} {label}")
    return EXIT_OK


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
    _tune_gc()
    logging.getLogger("eki").info(
        "serving on %s:%d: event loop %s, HTTP parser %s", args.host, args.port,
        loops.resolve(settings.event_loop), loops.http_parser())
    uvicorn.run(
        create_app(settings, run_worker=not args.no_worker,
                   worker_concurrency=args.concurrency),
        host=args.host,
        port=args.port,
        log_level=settings.log_level.lower(),
        access_log=False,  # eki.access logs requests with phones masked
        proxy_headers=False,  # EKI_TRUSTED_PROXIES decides whom to believe
        loop=loops.resolve(settings.event_loop),
        http="auto",  # httptools when installed (a dependency), else h11
        log_config=None,  # uvicorn's records go through EKI's handlers (JSON lines)
    )
    return EXIT_OK


# -- parser ------------------------------------------------------------------------------

Handler = Callable[[Settings, argparse.Namespace], "Coroutine[Any, Any, int] | int"]


def _page_size(raw: str) -> int:
    value = int(raw)
    if not 1 <= value <= MAX_PAGE_SIZE:
        raise argparse.ArgumentTypeError(f"must be between 1 and {MAX_PAGE_SIZE}")
    return value


def _import_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", metavar="FILE")
    parser.add_argument("--dry-run", action="store_true",
                        help="do everything, then roll back: see what would happen")
    parser.add_argument("--strict", action="store_true", help="any error: write nothing")
    parser.add_argument("--country", type=_region, default=None, metavar="CC",
                        help="region for phones without a country code (default "
                        "EKI_DEFAULT_COUNTRY)")
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    parser.add_argument("--errors-out", metavar="FILE",
                        help="write the rejected rows (.xlsx or .csv) to fix and re-import")


def _concurrency(raw: str) -> int:
    value = int(raw)
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError("must be between 1 and 1000")
    return value


def _region(raw: str) -> str:
    region = raw.strip().upper()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a region code such as CO, MX, AR")
    return region


def _non_negative(raw: str) -> int:
    value = int(raw)
    if value < 0:
        raise argparse.ArgumentTypeError("must be 0 or more")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="eki",
        description="EKI: the WhatsApp assistant for schools. Settings come from EKI_* "
        "environment variables (see .env.example).",
    )
    parser.add_argument("--version", action="version", version=f"eki {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    db = sub.add_parser("db", help="database schema").add_subparsers(
        dest="db_command", required=True, metavar="ACTION"
    )
    db.add_parser("upgrade", help="create or migrate the schema to the latest revision"
                  ).set_defaults(handler=cmd_db_upgrade)
    db.add_parser("status", help="show the schema revision (exit 1 when behind)"
                  ).set_defaults(handler=cmd_db_status)

    serve = sub.add_parser("serve", help="run the web service (webhook, API, health checks)")
    serve.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="port (default 8000)")
    serve.add_argument("--no-worker", action="store_true",
                       help="only receive webhooks; answer with separate `eki worker` processes")
    serve.add_argument("--concurrency", type=_concurrency, default=32,
                       help="conversation turns handled at once (default 32)")
    serve.set_defaults(handler=cmd_serve)

    worker = sub.add_parser("worker", help="answer the inbox and send the outbox (no HTTP)")
    worker.add_argument("--concurrency", type=_concurrency, default=32,
                        help="conversation turns handled at once (default 32)")
    worker.add_argument("--metrics-port", type=int, default=None, metavar="PORT",
                        help="also serve this worker's GET /metrics (and /healthz) on PORT "
                        "(same token as the web app's /metrics)")
    worker.add_argument("--metrics-host", default="127.0.0.1", metavar="HOST",
                        help="address for --metrics-port (default 127.0.0.1)")
    worker.set_defaults(handler=cmd_worker)

    chat = sub.add_parser(
        "chat", help="talk to EKI as a student from the terminal (the same pipeline)",
        description="Each message goes through the inbox, the conversation service and the "
        "outbox like a WhatsApp message would, but the reply is printed here instead of "
        "being sent.")
    chat.add_argument("--phone", required=True, help="the student's phone, any format")
    chat.add_argument("--message", help="send one message and exit (default: interactive)")
    chat.add_argument("--json", action="store_true",
                      help='print {"reply", "intent", "tools"} for scripts')
    chat.set_defaults(handler=cmd_chat)

    demo = sub.add_parser(
        "demo", help="load a demo school and run a scripted conversation, step by step",
        description="Seeds three demo students (phones 300 111 0001-0003) with courses, "
        "grades and attendance into the configured database, then asks EKI the usual "
        "questions as one of them, printing tool calls, answers, tokens and cost. Uses the "
        "model when OPENAI_API_KEY is set, the rule-based responder otherwise.")
    demo.set_defaults(handler=cmd_demo)

    handoff = sub.add_parser("handoff", help="conversations handed to a person").add_subparsers(
        dest="handoff_command", required=True, metavar="ACTION")
    release = handoff.add_parser("release", help="give the conversation back to the bot")
    release.add_argument("phone", metavar="PHONE")
    release.set_defaults(handler=cmd_handoff_release)
    handoff.add_parser("list", help="open hand-offs, oldest first").set_defaults(
        handler=cmd_handoff_list)

    students = sub.add_parser("students", help="the student registry").add_subparsers(
        dest="students_command", required=True, metavar="ACTION"
    )
    add = students.add_parser("add", help="register a student")
    add.add_argument("name", metavar="NAME")
    add.add_argument("phone", metavar="PHONE", help="any format, e.g. '300 123 4567' or +57…")
    add.add_argument("--tag", action="append", metavar="T", help="a tag (repeatable)")
    add.add_argument("--inactive", action="store_true", help="register as inactive")
    add.add_argument("--json", action="store_true", help="print the student as JSON")
    add.set_defaults(handler=cmd_students_add)

    show = students.add_parser("show", help="show one student by phone (any format)")
    show.add_argument("phone", metavar="PHONE")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=cmd_students_show)

    lst = students.add_parser("list", help="list students, newest first")
    lst.add_argument("--tag", metavar="T")
    state = lst.add_mutually_exclusive_group()
    state.add_argument("--active", action="store_true", help="only active students")
    state.add_argument("--inactive", action="store_true", help="only inactive students")
    lst.add_argument("--limit", type=_page_size, default=50, help="page size (default 50)")
    lst.add_argument("--offset", type=_non_negative, default=0, help="skip this many")
    lst.add_argument("--json", action="store_true")
    lst.set_defaults(handler=cmd_students_list)

    upd = students.add_parser("update", help="change a student's name, phone, state or tags")
    upd.add_argument("phone", metavar="PHONE")
    upd.add_argument("--name")
    upd.add_argument("--new-phone", dest="new_phone", metavar="PHONE")
    upd.add_argument("--tag", action="append", metavar="T", help="replace the tags (repeatable)")
    ustate = upd.add_mutually_exclusive_group()
    ustate.add_argument("--active", action="store_true")
    ustate.add_argument("--inactive", action="store_true")
    upd.add_argument("--json", action="store_true")
    upd.set_defaults(handler=cmd_students_update)

    for name, handler, text in (
        ("activate", cmd_students_activate, "mark a student active"),
        ("deactivate", cmd_students_deactivate, "mark a student inactive"),
    ):
        cmd = students.add_parser(name, help=text)
        cmd.add_argument("phone", metavar="PHONE")
        cmd.add_argument("--json", action="store_true")
        cmd.set_defaults(handler=handler)

    imp = students.add_parser(
        "import",
        help="import students from .xlsx/.xls/.ods/.csv/.json",
        description="Create or update students from a spreadsheet: columns nombre and "
        "telefono (required), activo and etiquetas (optional). Exit 0 when the file was "
        "processed (even with row errors), 1 when --strict rejected it, 2 when unreadable.",
    )
    _import_options(imp)
    imp.set_defaults(handler=cmd_students_import)

    progress = sub.add_parser("progress", help="grades, attendance and enrolments"
                              ).add_subparsers(dest="progress_command", required=True,
                                               metavar="ACTION")
    pimp = progress.add_parser(
        "import",
        help="import grades, attendance or enrolments from .xlsx/.csv",
        description="One row per result (telefono, curso, actividad, nota, nota_maxima, "
        "peso, fecha_entrega, periodo), per class day (telefono, curso, fecha, estado) or "
        "per enrolment (telefono, curso, periodo). The kind is detected from the headers. "
        "Same modes and exit codes as `eki students import`.",
    )
    _import_options(pimp)
    pimp.add_argument("--kind", choices=[k.value for k in ProgressKind],
                      help="skip detection: grades, attendance or enrollments")
    pimp.set_defaults(handler=cmd_progress_import)

    add_oneroster_parser(sub)

    imports = sub.add_parser("imports", help="the import history").add_subparsers(
        dest="imports_command", required=True, metavar="ACTION"
    )
    hist = imports.add_parser("list", help="recent imports, newest first")
    hist.add_argument("--kind", choices=["students", "progress"], default=None)
    hist.add_argument("--limit", type=_page_size, default=20)
    hist.add_argument("--json", action="store_true")
    hist.set_defaults(handler=cmd_imports_list)

    tag = students.add_parser("tag", help="add (or with --remove, remove) tags")
    tag.add_argument("phone", metavar="PHONE")
    tag.add_argument("tags", nargs="+", metavar="TAG")
    tag.add_argument("--remove", action="store_true")
    tag.set_defaults(handler=cmd_students_tag)
    add_intents_parser(sub)
    return parser


def run(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        configure_logging(settings)
        result = args.handler(settings, args)
        if asyncio.iscoroutine(result):
            result = loops.run(result, settings.event_loop)
        return int(result)
    except SettingsError as exc:
        print(f"eki: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except EkiError as exc:
        print(f"eki: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    except CliError as exc:
        print(f"eki: {exc}", file=sys.stderr)
        return exc.exit_code
    except BrokenPipeError:
        return EXIT_OK  # e.g. `eki students list | head`
    except (OperationalError, DBAPIError, OSError) as exc:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        print(f"eki: cannot use the database: {detail}", file=sys.stderr)
        return EXIT_FAILURE
    except KeyboardInterrupt:
        return 130


def main() -> None:
    sys.exit(run())
