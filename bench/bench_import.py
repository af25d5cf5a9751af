"""Student import benchmark: a 100,000-row .xlsx through the real CLI.

    python bench/bench_import.py [--rows 100000] [--runs 3] [--shared-strings]
                                 [--pg-url postgresql://postgres@127.0.0.1:5432/postgres]
                                 [--skip-sqlite] [--skip-postgres] [--json]

For each backend and each run (a throwaway PostgreSQL database; a fresh SQLite file) it
times, side by side:
- reading the same file with openpyxl read-only (the reference the import must beat),
- ``eki students import FILE --json`` end to end (process start to exit),
- the same import again (must be all "unchanged", zero rows written),
with, for each import, the CPU time of the ``eki`` process, the CPU time of the
PostgreSQL backends serving that database (read from /proc while it runs: a local server
only), how busy the whole machine was (other people's jobs make wall times noisy) and the
peak memory (max RSS). Several runs print min–median–max.

EKI's modules are byte-compiled first (``compileall``), as an installed wheel is: with
``PYTHONDONTWRITEBYTECODE=1`` and no ``__pycache__`` every ``eki`` process would recompile
them (0.3–0.4 s), which is not what a deployment pays.

Goals (issue 19 item 8): first import <= 3 s, unchanged re-import <= 2 s with zero rows
written (earlier goals: 5 s, no slower than the openpyxl read, and 3 s); peak memory <= 300 MB.
"""

from __future__ import annotations

import argparse
import compileall
import importlib.util
import json
import os
import random
import re
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import openpyxl
import psycopg
from sqlalchemy.engine import make_url

from _pipeline_support import TICK, postgres_cpu, system_cpu

EKI = str(Path(sys.executable).with_name("eki"))
FIRST = ["Ana", "Luis", "María", "José", "Camila", "Andrés", "Valentina", "Juan", "Sofía",
         "Santiago", "Daniela", "Mateo", "Isabella", "Samuel", "Mariana"]
LAST = ["Pérez", "Gómez", "Rodríguez", "López", "Martínez", "García", "Hernández", "Díaz",
        "Moreno", "Álvarez", "Romero", "Ruiz", "Torres", "Ramírez", "Vargas"]


def make_workbook(path: Path, rows: int) -> None:
    """A realistic roster: phones as numbers, floats, spaced text, +57 and 57 prefixes."""
    rng = random.Random(2026)
    workbook = openpyxl.Workbook(write_only=True)
    sheet = workbook.create_sheet("Estudiantes")
    sheet.append(["Nombre", "Teléfono", "Activo", "Etiquetas"])
    for i in range(rows):
        national = 3000000000 + i * 7
        style = i % 5
        phone: object
        if style == 0:
            phone = national
        elif style == 1:
            phone = float(national)
        elif style == 2:
            s = str(national)
            phone = f"{s[:3]} {s[3:6]} {s[6:]}"
        elif style == 3:
            phone = f"+57{national}"
        else:
            phone = f"57{national}"
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)} {rng.choice(LAST)}"
        sheet.append([name, phone, "sí" if i % 10 else "no", f"grado {6 + i % 6}"])
    workbook.save(path)


_INLINE = re.compile(rb'<c r="([A-Z]+[0-9]+)" t="inlineStr"><is><t>([^<]*)</t></is></c>')


def to_shared_strings(path: Path) -> None:
    """Rewrite the workbook as Excel saves one: every text cell names an entry of a shared
    strings table (``xl/sharedStrings.xml``) instead of holding its text inline (what
    openpyxl's write-only mode writes)."""
    strings: dict[bytes, int] = {}

    def shared(found: re.Match[bytes]) -> bytes:
        index = strings.setdefault(found[2], len(strings))
        return b'<c r="%s" t="s"><v>%d</v></c>' % (found[1], index)

    with zipfile.ZipFile(path) as source:
        parts = {info.filename: source.read(info) for info in source.infolist()}
    sheet = "xl/worksheets/sheet1.xml"
    parts[sheet] = _INLINE.sub(shared, parts[sheet])
    parts["xl/sharedStrings.xml"] = (
        b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="http://'
        b'schemas.openxmlformats.org/spreadsheetml/2006/main" count="%d" uniqueCount="%d">'
        % (len(strings), len(strings))
        + b"".join(b"<si><t>%s</t></si>" % text for text in strings) + b"</sst>")
    parts["xl/_rels/workbook.xml.rels"] = parts["xl/_rels/workbook.xml.rels"].replace(
        b"</Relationships>", b'<Relationship Id="rIdSST" Type="http://schemas.openxmlformats'
        b'.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
        b"</Relationships>")
    parts["[Content_Types].xml"] = parts["[Content_Types].xml"].replace(
        b"</Types>", b'<Override PartName="/xl/sharedStrings.xml" ContentType="application/'
        b'vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>')
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for name, content in parts.items():
            target.writestr(name, content)


def openpyxl_read(path: Path) -> float:
    started = time.perf_counter()
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    for _row in workbook.active.iter_rows(values_only=True):
        pass
    workbook.close()
    return time.perf_counter() - started


# Runs one command and prints its peak RSS: a fresh parent per import, so
# RUSAGE_CHILDREN is exactly that import's maximum.
_PEAK_WRAPPER = (
    "import resource, subprocess, sys\n"
    "done = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
    "sys.stdout.write(done.stdout)\n"
    "sys.stderr.write(done.stderr)\n"
    "usage = resource.getrusage(resource.RUSAGE_CHILDREN)\n"
    "cpu = usage.ru_utime + usage.ru_stime\n"
    "sys.stderr.write(f'\\nPEAK_RSS_KB={usage.ru_maxrss} CPU_S={cpu}\\n')\n"
    "sys.exit(done.returncode)\n"
)


def postgres_cpu_seconds() -> float | None:
    """CPU seconds used so far by the local PostgreSQL cluster (a backend that has exited is
    counted in the postmaster's reaped children). Two readings, before and after an import,
    give what PostgreSQL spent on it (plus its background processes, a few ms) — without a
    sampling thread competing with the import for the two cores."""
    found = postgres_cpu() if os.path.isdir("/proc") else {}
    return sum(found.values()) if found else None


def _busy_seconds() -> float | None:
    """CPU seconds the whole machine has been busy (all cores), from /proc/stat."""
    try:
        busy, _ = system_cpu()
    except OSError:
        return None
    return busy / TICK


def timed_import(path: Path, database_url: str) -> dict[str, object]:
    env = {**os.environ, "EKI_DATABASE_URL": database_url, "EKI_LOG_LEVEL": "WARNING"}
    postgres_before = postgres_cpu_seconds()
    busy = _busy_seconds()
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_WRAPPER, EKI, "students", "import", str(path), "--json"],
        env=env, capture_output=True, text=True, check=False,
    )
    elapsed = time.perf_counter() - started
    busy_after = _busy_seconds()
    time.sleep(0.05)  # the backend's exit, once its client is gone
    postgres_after = postgres_cpu_seconds()
    if done.returncode != 0:
        raise SystemExit(f"import failed ({done.returncode}): {done.stderr}")
    stats = done.stderr.rsplit("PEAK_RSS_KB=", 1)[1].split()
    peak_kb, cpu = int(stats[0]), float(stats[1].removeprefix("CPU_S="))
    report = json.loads(done.stdout)
    return {
        "seconds": elapsed,  # includes the wrapper's start (~20 ms)
        "eki_cpu_s": cpu,
        "postgres_cpu_s": (None if postgres_before is None or postgres_after is None
                           else postgres_after - postgres_before),
        # the whole machine's busy CPU during the import, in cores (2.0 = both cores busy)
        "machine_busy_cores": (None if busy is None or busy_after is None
                               else (busy_after - busy) / elapsed),
        "peak_rss_mb": peak_kb / 1024,
        "created": report["created"],
        "updated": report["updated"],
        "unchanged": report["unchanged"],
        "errors": report["errors"],
        "duration_ms": report["duration_ms"],
    }


def prepare_db(url: str) -> None:
    env = {**os.environ, "EKI_DATABASE_URL": url, "EKI_LOG_LEVEL": "WARNING"}
    subprocess.run([EKI, "db", "upgrade"], env=env, check=True, capture_output=True)


def compile_eki() -> list[str]:
    """Byte-compile the EKI packages the ``eki`` processes will import, as pip does when
    it installs a wheel. Returns their folders."""
    folders = []
    for package in ("eki_domain", "eki_adapters", "eki_entrypoints"):
        spec = importlib.util.find_spec(package)
        assert spec is not None and spec.submodule_search_locations
        folder = next(iter(spec.submodule_search_locations))
        compileall.compile_dir(folder, quiet=1)
        folders.append(folder)
    return folders


def one_run(url: str, path: Path, database: str | None) -> dict[str, object]:
    prepare_db(url)
    del database  # PostgreSQL's CPU is read for the whole cluster (postgres_cpu_seconds)
    return {"first": timed_import(path, url), "reimport": timed_import(path, url)}


def postgres_runs(pg_url: str, path: Path, runs: int) -> list[dict[str, object]]:
    """Each run in a fresh database, dropped afterwards."""
    admin = make_url(pg_url).set(drivername="postgresql")
    admin_dsn = admin.render_as_string(hide_password=False)
    results = []
    for _ in range(runs):
        name = f"eki_bench_{secrets.token_hex(4)}"
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            url = admin.set(database=name).render_as_string(hide_password=False)
            results.append(one_run(url, path, name))
        finally:
            with psycopg.connect(admin_dsn, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return results


def spread(runs: list[dict[str, object]], which: str, key: str) -> str:
    """min–median–max of one measure over the runs ("n/a" when not measured)."""
    values = sorted(float(v) for run in runs
                    if (v := run[which][key]) is not None)  # type: ignore[index]
    if not values:
        return "n/a"
    return f"{values[0]:.2f}–{statistics.median(values):.2f}–{values[-1]:.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description="100k-row student import benchmark")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3, help="fresh database each (default 3)")
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--skip-reference", action="store_true",
                        help="do not time the openpyxl read (about 9 s)")
    parser.add_argument("--shared-strings", action="store_true",
                        help="text cells in a shared strings table, as Excel saves them "
                        "(default: inline, as openpyxl's write-only mode writes)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    folders = compile_eki()
    print(f"byte-compiled {', '.join(folders)} (as an installed wheel is)", file=sys.stderr)
    workdir = Path(tempfile.mkdtemp(prefix="eki-bench-import-"))
    path = workdir / f"estudiantes-{args.rows}.xlsx"
    started = time.perf_counter()
    make_workbook(path, args.rows)
    if args.shared_strings:
        to_shared_strings(path)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) in "
          f"{time.perf_counter() - started:.1f} s", file=sys.stderr)
    reference = None if args.skip_reference else openpyxl_read(path)

    results: list[dict[str, object]] = []
    if not args.skip_postgres:
        results.append({"backend": "postgresql",
                        "runs": postgres_runs(args.pg_url, path, args.runs)})
    if not args.skip_sqlite:
        results.append({"backend": "sqlite", "runs": [
            one_run(f"sqlite:///{workdir / f'bench-{i}.db'}", path, None)
            for i in range(args.runs)]})

    if args.json:
        print(json.dumps({"rows": args.rows, "openpyxl_read_only_s": reference,
                          "results": results}, indent=2))
        return
    def ok(cond: bool) -> str:
        return "OK" if cond else "MISSED"

    if reference is not None:
        print(f"openpyxl read-only read of the same file: {reference:.2f} s (reference)")
    for r in results:
        runs = r["runs"]
        assert isinstance(runs, list)
        print(f"[{r['backend']}] {args.rows} rows, {len(runs)} run(s), min–median–max")
        for which, label, goal in (("first", "first import", 3.0),
                                   ("reimport", "re-import", 2.0)):
            seconds = statistics.median(float(run[which]["seconds"]) for run in runs)
            written = max(int(run[which]["created"]) + int(run[which]["updated"])
                          for run in runs) if which == "reimport" else None
            verdict = ok(seconds <= goal and not written)
            print(f"  {label + ' (CLI, e2e):':24} {spread(runs, which, 'seconds')} s   "
                  f"goal: median <= {goal:.0f} s" + (", 0 written" if written is not None
                                                     else "") + f" {verdict}")
            print(f"  {'':24} eki CPU {spread(runs, which, 'eki_cpu_s')} s, PostgreSQL CPU "
                  f"{spread(runs, which, 'postgres_cpu_s')} s, machine busy "
                  f"{spread(runs, which, 'machine_busy_cores')} cores")
            last = runs[-1][which]
            print(f"  {'':24} created={last['created']} updated={last['updated']} "
                  f"unchanged={last['unchanged']} errors={last['errors']}")
        peak = max(float(run[which]["peak_rss_mb"]) for run in runs
                   for which in ("first", "reimport"))
        print(f"  peak memory (max RSS):   {peak:6.0f} MB  goal <= 300 MB {ok(peak <= 300)}")


if __name__ == "__main__":
    main()
