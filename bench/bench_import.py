"""Student import benchmark: a 100,000-row .xlsx through the real CLI.

    python bench/bench_import.py [--rows 100000] [--pg-url postgresql://postgres@127.0.0.1:5432/postgres]
                                 [--skip-sqlite] [--skip-postgres] [--json]

For each backend (a throwaway PostgreSQL database; a fresh SQLite file) it times,
side by side in one run:
- reading the same file with openpyxl read-only (the reference the import must beat),
- ``eki students import FILE --json`` end to end (process start to exit),
- the same import again (must be all "unchanged", zero rows written),
and the peak memory (max RSS) of each import process.

Goals (issue "Student migration"): first import <= 5 s and no slower than the
openpyxl read; re-import <= 3 s with zero rows written; peak memory <= 300 MB.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import openpyxl
import psycopg
from sqlalchemy.engine import make_url

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


def openpyxl_read(path: Path) -> float:
    started = time.perf_counter()
    workbook = openpyxl.load_workbook(path, read_only=True, data_only=True)
    for _row in workbook.active.iter_rows(values_only=True):  # type: ignore[union-attr]
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
    "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
    "sys.stderr.write(f'\\nPEAK_RSS_KB={peak}\\n')\n"
    "sys.exit(done.returncode)\n"
)


def timed_import(path: Path, database_url: str) -> dict[str, object]:
    env = {**os.environ, "EKI_DATABASE_URL": database_url, "EKI_LOG_LEVEL": "WARNING"}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", _PEAK_WRAPPER, EKI, "students", "import", str(path), "--json"],
        env=env, capture_output=True, text=True, check=False,
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"import failed ({done.returncode}): {done.stderr}")
    peak_kb = int(done.stderr.rsplit("PEAK_RSS_KB=", 1)[1].strip())
    report = json.loads(done.stdout)
    return {
        "seconds": elapsed,  # includes the wrapper's start (~20 ms)
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


def bench_backend(label: str, url: str, path: Path) -> dict[str, object]:
    prepare_db(url)
    reference = openpyxl_read(path)
    first = timed_import(path, url)
    again = timed_import(path, url)
    return {"backend": label, "openpyxl_read_only_s": reference, "first": first,
            "reimport": again}


def main() -> None:
    parser = argparse.ArgumentParser(description="100k-row student import benchmark")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--pg-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--skip-sqlite", action="store_true")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="eki-bench-import-"))
    path = workdir / f"estudiantes-{args.rows}.xlsx"
    started = time.perf_counter()
    make_workbook(path, args.rows)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) in "
          f"{time.perf_counter() - started:.1f} s", file=sys.stderr)

    results = []
    if not args.skip_postgres:
        admin = make_url(args.pg_url).set(drivername="postgresql")
        name = f"eki_bench_{secrets.token_hex(4)}"
        with psycopg.connect(admin.render_as_string(hide_password=False),
                             autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            url = admin.set(database=name).render_as_string(hide_password=False)
            results.append(bench_backend("postgresql", url, path))
        finally:
            with psycopg.connect(admin.render_as_string(hide_password=False),
                                 autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    if not args.skip_sqlite:
        results.append(bench_backend("sqlite", f"sqlite:///{workdir / 'bench.db'}", path))

    if args.json:
        print(json.dumps({"rows": args.rows, "results": results}, indent=2))
        return
    for r in results:
        first, again = r["first"], r["reimport"]
        assert isinstance(first, dict) and isinstance(again, dict)
        ref = r["openpyxl_read_only_s"]
        assert isinstance(ref, float)
        ok = lambda cond: "OK" if cond else "MISSED"  # noqa: E731
        print(f"[{r['backend']}] {args.rows} rows")
        print(f"  openpyxl read-only read:   {ref:6.2f} s (reference)")
        print(f"  first import (CLI, e2e):   {first['seconds']:6.2f} s  created={first['created']} "
              f"errors={first['errors']}  goal <= 5 s {ok(first['seconds'] <= 5)}, "
              f"<= openpyxl {ok(first['seconds'] <= ref)}")
        print(f"  re-import (CLI, e2e):      {again['seconds']:6.2f} s  "
              f"unchanged={again['unchanged']} written={again['created'] + again['updated']}  "
              f"goal <= 3 s & 0 written "
              f"{ok(again['seconds'] <= 3 and again['created'] + again['updated'] == 0)}")
        peak = max(float(first["peak_rss_mb"]), float(again["peak_rss_mb"]))  # type: ignore[arg-type]
        print(f"  peak memory (max RSS):     {peak:6.0f} MB  goal <= 300 MB {ok(peak <= 300)}")


if __name__ == "__main__":
    main()
