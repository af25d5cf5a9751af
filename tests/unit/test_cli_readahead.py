"""The read-ahead of a file import (cli/readahead.py): which command lines start it (only
those the real parser accepts, never --help), and that it hands over exactly what reading
the file in the import would have given — the bytes, the sheet, or the same error."""

from __future__ import annotations

import io
import threading
from pathlib import Path

import openpyxl
import pytest

from eki_domain.model.imports import ImportFileError
from eki_entrypoints.cli import build_parser
from eki_entrypoints.cli.readahead import (
    READ_AHEAD_IMPORTS,
    accepted_import_file,
    cli_reader,
    start_read_ahead,
)

ACCEPTED = [
    ["students", "import", "lista.xlsx"],
    ["students", "import", "lista.xlsx", "--dry-run", "--json", "--strict"],
    ["students", "import", "--country", "mx", "lista.xlsx"],
    ["students", "import", "lista.xlsx", "--errors-out", "errores.csv"],
    ["students", "import", "lista.xlsx", "--dry"],  # argparse's abbreviations, both parsers
    ["students", "import", "--", "-h"],  # a file named -h
    ["guardians", "import", "acudientes.xlsx"],
    ["consent", "import", "consentimientos.csv", "--json"],
    ["progress", "import", "notas.xlsx", "--kind", "grades"],
    ["progress", "import", "notas.xlsx"],
]

REFUSED = [
    ["students", "import", "lista.xlsx", "--help"],
    ["students", "import", "lista.xlsx", "-h"],
    ["students", "import", "lista.xlsx", "--he"],
    ["students", "import", "-h", "lista.xlsx"],
    ["students", "import", "lista.xlsx", "--country", "Narnia"],
    ["students", "import", "lista.xlsx", "otra.xlsx"],
    ["students", "import", "lista.xlsx", "--nope"],
    ["students", "import", "lista.xlsx", "--version"],
    ["students", "import", "lista.xlsx", "--errors-out"],
    ["students", "import", "lista.xlsx", "--kind", "grades"],
    ["progress", "import", "notas.xlsx", "--kind", "notas"],
    ["students", "import"],
    ["students", "import", "--json"],
    ["students", "list", "--json"],
    ["oneroster", "import", "paquete.zip"],  # read by its own reader, not read ahead
    ["--version", "students", "import", "lista.xlsx"],
    ["students", "--help", "import", "lista.xlsx"],
    ["student", "import", "lista.xlsx"],
    [],
]


def real_parse(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str | None:
    """FILE as the real ``eki`` parser reads it, or None when it refuses (or prints help)."""
    try:
        args = build_parser().parse_args(argv)
    except SystemExit:
        capsys.readouterr()
        return None
    return getattr(args, "file", None)


@pytest.mark.parametrize("argv", ACCEPTED, ids=" ".join)
def test_accepted_command_lines_are_the_real_parsers(
        argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    file = accepted_import_file(argv)
    assert file is not None
    assert real_parse(argv, capsys) == file
    assert capsys.readouterr() == ("", "")  # the pre-parse printed nothing


@pytest.mark.parametrize("argv", REFUSED, ids=lambda argv: " ".join(argv) or "(none)")
def test_refused_command_lines_start_nothing(
        argv: list[str], capsys: pytest.CaptureFixture[str], tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    for name in ("lista.xlsx", "notas.xlsx", "paquete.zip"):
        (tmp_path / name).write_bytes(b"x")
    before = {t.ident for t in threading.enumerate()}
    assert start_read_ahead(argv) is None
    assert capsys.readouterr() == ("", "")  # nothing printed: the real parser speaks
    assert not [t for t in threading.enumerate() if t.ident not in before]
    if len(argv) >= 2 and argv[0] in READ_AHEAD_IMPORTS and argv[1] == "import":
        assert real_parse(argv, capsys) is None  # the real parser refuses them too


def test_every_read_ahead_group_has_that_import_command(
        capsys: pytest.CaptureFixture[str]) -> None:
    for group in READ_AHEAD_IMPORTS:
        with pytest.raises(SystemExit) as caught:
            build_parser().parse_args([group, "import", "--help"])
        assert caught.value.code == 0
        assert f"usage: eki {group} import" in capsys.readouterr().out


def small_workbook(path: Path) -> Path:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    for row in (["Nombre", "Teléfono"], ["Ana", 3001234567], ["Beto", "310 987 6543"]):
        sheet.append(row)
    book.save(path)
    return path


def hostile_workbook(path: Path) -> Path:
    """One value in A1 and one in XFD1048576: 512 GiB as calamine's dense grid."""
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet["A1"] = "Nombre"
    sheet["XFD1048576"] = "x"
    buffer = io.BytesIO()
    book.save(buffer)
    path.write_bytes(buffer.getvalue())
    return path


def test_the_sheet_read_ahead_is_the_readers(tmp_path: Path) -> None:
    path = small_workbook(tmp_path / "lista.xlsx")
    ahead = start_read_ahead(["students", "import", str(path), "--dry-run"])
    assert ahead is not None and ahead.file == str(path)
    data = path.read_bytes()
    assert ahead.data() == data
    assert ahead.sheet() == cli_reader().read(data, "lista.xlsx")
    assert [cells for _, cells in ahead.sheet().rows][1] == ["Ana", 3001234567]


@pytest.mark.parametrize("content", [
    None,
    b"nombre,telefono\nAna,3001234567\n",
    b"PK\x03\x04 not a zip at all",
    b"",
], ids=["too-large", "renamed-csv", "damaged", "empty"])
def test_a_refused_file_raises_the_readers_error(content: bytes | None, tmp_path: Path) -> None:
    path = tmp_path / "lista.xlsx"
    if content is None:
        hostile_workbook(path)
    else:
        path.write_bytes(content)
    with pytest.raises(ImportFileError) as direct:
        cli_reader().read(path.read_bytes(), "lista.xlsx")
    ahead = start_read_ahead(["students", "import", str(path)])
    assert ahead is not None
    assert ahead.data() == path.read_bytes()
    with pytest.raises(ImportFileError) as read_ahead:
        ahead.sheet()
    assert (read_ahead.value.code, read_ahead.value.message) == (direct.value.code,
                                                                direct.value.message)


def test_an_unreadable_path_raises_what_reading_it_raises(tmp_path: Path) -> None:
    for path, error in ((tmp_path / "missing.xlsx", FileNotFoundError),
                        (tmp_path, IsADirectoryError)):
        ahead = start_read_ahead(["students", "import", str(path)])
        assert ahead is not None
        with pytest.raises(error):
            ahead.data()
        with pytest.raises(error):
            ahead.sheet()


@pytest.mark.parametrize("argv", [["students", "list"], ["students", "import", "lista.xlsx"]])
def test_the_eki_script_runs_the_command_with_the_collector_on(
        argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """main() pauses the cyclic collector while the commands load, freezes what they made
    and turns it back on before the command runs; a file import gets its read-ahead."""
    import gc
    import sys

    from eki_entrypoints.cli import app, main

    small_workbook(tmp_path / "lista.xlsx")
    monkeypatch.chdir(tmp_path)
    seen: dict[str, object] = {}

    def fake_run(args: list[str], *, read_ahead: object = None) -> int:
        seen.update(argv=args, enabled=gc.isenabled(), frozen=gc.get_freeze_count(),
                    file=getattr(read_ahead, "file", None))
        return 0

    monkeypatch.setattr(app, "run", fake_run)
    monkeypatch.setattr(sys, "argv", ["eki", *argv])
    try:
        with pytest.raises(SystemExit) as done:
            main()
    finally:
        gc.unfreeze()
        gc.enable()
    assert done.value.code == 0
    assert seen["argv"] == argv and seen["enabled"] is True
    assert isinstance(seen["frozen"], int) and seen["frozen"] > 0
    assert seen["file"] == ("lista.xlsx" if argv[1] == "import" else None)
