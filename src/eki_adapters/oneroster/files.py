"""Reading the CSV files of a OneRoster package from a zip or a folder.

OneRoster 1.1 CSV files are UTF-8, comma-separated, with a header row of camelCase column
names. EKI is lenient where that costs nothing: column names are matched
case-insensitively, a UTF-8 BOM is fine, a file saved by Excel as Windows-1252 or with
semicolons is read (with a warning for the encoding). Anything that cannot be read as a
whole raises :class:`ImportFileError` with a Spanish message; nothing is written then.
"""

from __future__ import annotations

import csv
import hashlib
import io
import zipfile
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path, PurePosixPath

import attrs

from eki_domain.model.imports import ImportFileError, RowIssue, Severity
from eki_domain.services.oneroster_import import PackageIssue

#: Largest CSV file EKI reads from a package (uncompressed).
MAX_CSV_BYTES = 512 * 1024 * 1024

#: The files EKI reads, as the specification spells them; anything else is ignored.
KNOWN_FILES = ("manifest.csv", "users.csv", "courses.csv", "classes.csv",
               "academicSessions.csv", "enrollments.csv", "lineItems.csv", "results.csv")

#: Columns without which a file is useless (compared case-insensitively).
REQUIRED_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "manifest.csv": ("propertyName", "value"),
    "users.csv": ("sourcedId", "role"),
    "courses.csv": ("sourcedId",),
    "classes.csv": ("sourcedId",),
    "academicSessions.csv": ("sourcedId", "title"),
    "enrollments.csv": ("classSourcedId", "userSourcedId", "role"),
    "lineItems.csv": ("sourcedId", "classSourcedId"),
    "results.csv": ("lineItemSourcedId", "studentSourcedId"),
}


def problem(file: str, line: int, column: str | None, value: object, code: str, text: str,
            severity: Severity = Severity.ERROR) -> RowIssue:
    """A package problem located at ``file``, line ``line`` (0: the file as a whole)."""
    where = f"{file}, línea {line}" if line > 0 else file
    return PackageIssue(row=line, column=column, value=value, normalized=None,
                        severity=severity, code=code, message=f"{where}: {text}", file=file)


@attrs.frozen
class CsvTable:
    """One CSV file: its header and its data rows, with their line numbers."""

    file: str
    sha256: str
    header_line: int
    headers: tuple[str, ...]
    rows: Sequence[tuple[int, Sequence[str]]]
    _index: Mapping[str, int]

    def has(self, column: str) -> bool:
        return column.lower() in self._index

    def label(self, column: str) -> str:
        """The column's name as the file writes it (the spec's spelling when absent)."""
        index = self._index.get(column.lower())
        return column if index is None else self.headers[index]

    def value(self, cells: Sequence[str], column: str) -> str:
        """The cell of ``column`` in a row, stripped; "" when the column or cell is missing."""
        index = self._index.get(column.lower())
        if index is None or index >= len(cells):
            return ""
        return cells[index].strip()

    def column(self, column: str) -> Callable[[Sequence[str]], str]:
        """A fast reader of one column (for loops over a million rows): the stripped cell,
        "" when the column or the cell is missing."""
        index = self._index.get(column.lower())
        if index is None:
            return _blank

        def read(cells: Sequence[str]) -> str:
            return cells[index].strip() if index < len(cells) else ""

        return read


def _blank(_cells: Sequence[str]) -> str:
    return ""


def empty_table(file: str) -> CsvTable:
    return CsvTable(file=file, sha256="", header_line=1, headers=(), rows=(), index={})


@attrs.frozen
class RawPackage:
    """The files found in a package (missing ones are absent) and the reading problems."""

    name: str
    tables: Mapping[str, CsvTable]
    problems: tuple[RowIssue, ...]


def read_files(path: Path) -> RawPackage:
    """Read the known CSV files of the zip or folder at ``path``."""
    if path.is_dir():
        return _read_folder(path)
    if not path.exists():
        raise ImportFileError(f"No existe «{path}». Indique el .zip o la carpeta del "
                              "paquete OneRoster.", code="FILE_NOT_FOUND")
    return _read_zip(path)


def _not_a_package(name: str, found: Iterable[str]) -> ImportFileError:
    present = ", ".join(sorted(found)) or "ningún archivo CSV"
    return ImportFileError(
        f"«{name}» no es un paquete OneRoster: falta users.csv (se encontró: {present}). "
        "Exporte el paquete OneRoster 1.1 CSV completo (un .zip con manifest.csv, users.csv, "
        "classes.csv, enrollments.csv…) y vuelva a intentarlo.", code="NOT_ONEROSTER")


def _read_folder(path: Path) -> RawPackage:
    wanted = {name.lower(): name for name in KNOWN_FILES}
    found: dict[str, Path] = {}
    try:
        entries = sorted(path.iterdir())
    except OSError as exc:
        raise ImportFileError(f"No se pudo leer la carpeta «{path.name}»: {exc.strerror}.",
                              code="UNREADABLE_FILE") from None
    for entry in entries:
        spec = wanted.get(entry.name.lower())
        if spec is not None and entry.is_file():
            found[spec] = entry
    if "users.csv" not in found:
        raise _not_a_package(path.name, (e.name for e in entries if e.suffix.lower() == ".csv"))
    tables: dict[str, CsvTable] = {}
    problems: list[RowIssue] = []
    for spec, entry in found.items():
        try:
            size = entry.stat().st_size
            if size > MAX_CSV_BYTES:
                raise _too_large(spec, size)
            data = entry.read_bytes()
        except OSError as exc:
            raise ImportFileError(f"No se pudo leer «{entry.name}»: {exc.strerror}.",
                                  code="UNREADABLE_FILE") from None
        tables[spec] = parse_csv(data, spec, problems)
    return RawPackage(name=path.name, tables=tables, problems=tuple(problems))


def _too_large(file: str, size: int) -> ImportFileError:
    return ImportFileError(
        f"{file} ocupa {size // (1024 * 1024)} MB; el máximo es "
        f"{MAX_CSV_BYTES // (1024 * 1024)} MB por archivo. Divida la exportación.",
        code="FILE_TOO_LARGE")


def _read_zip(path: Path) -> RawPackage:
    name = path.name
    try:
        archive = zipfile.ZipFile(path)
    except zipfile.BadZipFile:
        if path.suffix.lower() == ".csv":
            raise ImportFileError(
                f"«{name}» es un solo archivo CSV. Indique el .zip del paquete OneRoster o la "
                "carpeta que contiene users.csv, classes.csv, enrollments.csv…",
                code="NOT_ONEROSTER") from None
        raise ImportFileError(
            f"«{name}» no es un .zip válido (está dañado, incompleto o es otro tipo de "
            "archivo). Descargue de nuevo la exportación OneRoster y vuelva a intentarlo.",
            code="CORRUPT_FILE") from None
    except OSError as exc:
        raise ImportFileError(f"No se pudo leer «{name}»: {exc.strerror}.",
                              code="UNREADABLE_FILE") from None
    with archive:
        wanted = {spec.lower(): spec for spec in KNOWN_FILES}
        chosen: dict[str, zipfile.ZipInfo] = {}
        csv_names: list[str] = []
        for info in archive.infolist():
            member = PurePosixPath(info.filename)
            if info.is_dir() or member.parts[:1] == ("__MACOSX",) or \
                    member.name.startswith("._"):
                continue
            if member.suffix.lower() == ".csv":
                csv_names.append(member.name)
            spec = wanted.get(member.name.lower())
            if spec is None:
                continue
            previous = chosen.get(spec)
            if previous is None:
                chosen[spec] = info
                continue
            depth, other = len(member.parts), len(PurePosixPath(previous.filename).parts)
            if depth == other:
                raise ImportFileError(
                    f"«{name}» tiene dos archivos {spec} ({previous.filename} y "
                    f"{info.filename}). Deje un solo paquete en el .zip.",
                    code="AMBIGUOUS_PACKAGE")
            if depth < other:
                chosen[spec] = info
        if "users.csv" not in chosen:
            raise _not_a_package(name, csv_names)
        tables: dict[str, CsvTable] = {}
        problems: list[RowIssue] = []
        for spec, info in chosen.items():
            if info.file_size > MAX_CSV_BYTES:
                raise _too_large(spec, info.file_size)
            try:
                with archive.open(info) as member_file:
                    data = member_file.read(MAX_CSV_BYTES + 1)
            except RuntimeError as exc:  # encrypted member
                if "encrypted" in str(exc).lower() or "password" in str(exc).lower():
                    raise ImportFileError(
                        f"«{name}» está protegido con contraseña. Expórtelo sin contraseña "
                        "y vuelva a intentarlo.", code="ENCRYPTED_FILE") from None
                raise _corrupt_member(name, spec) from None
            except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError,
                    ValueError, OSError):
                raise _corrupt_member(name, spec) from None
            if len(data) > MAX_CSV_BYTES:
                raise _too_large(spec, len(data))
            tables[spec] = parse_csv(data, spec, problems)
    return RawPackage(name=name, tables=tables, problems=tuple(problems))


def _corrupt_member(name: str, spec: str) -> ImportFileError:
    return ImportFileError(
        f"No se pudo descomprimir {spec} de «{name}»: el .zip está dañado o usa una "
        "compresión no estándar. Descargue de nuevo la exportación y vuelva a intentarlo.",
        code="CORRUPT_FILE")


def _decode(data: bytes, file: str, problems: list[RowIssue]) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    problems.append(problem(
        file, 0, None, None, "NOT_UTF8",
        "no está en UTF-8, como exige OneRoster; se leyó como Windows-1252. Revise que "
        "las tildes y eñes de los nombres se vean bien.", Severity.WARNING))
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def _delimiter(text: str) -> str:
    first = next((line for line in text.splitlines() if line.strip()), "")
    if "," in first:
        return ","
    for candidate in (";", "\t", "|"):
        if candidate in first:
            return candidate
    return ","


def parse_csv(data: bytes, file: str, problems: list[RowIssue]) -> CsvTable:
    """Parse one CSV file; row numbers are the file's line numbers (a quoted cell spanning
    several lines counts them all). Raises ImportFileError for malformed CSV."""
    digest = hashlib.sha256(data).hexdigest()
    if b"\x00" in data:
        raise ImportFileError(
            f"{file} no es un CSV de texto (tiene bytes nulos: ¿está en UTF-16 o es otro "
            "tipo de archivo?). Expórtelo de nuevo como CSV UTF-8.", code="WRONG_FORMAT")
    text = _decode(data, file, problems)
    # strict: an unbalanced quote is an error, not the rest of the file swallowed in a cell
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text),
                        strict=True)
    header: list[str] | None = None
    header_line = 0
    rows: list[tuple[int, Sequence[str]]] = []
    start = 1
    try:
        for record in reader:
            line, start = start, reader.line_num + 1
            if not "".join(record).strip():
                continue
            if header is None:
                header, header_line = [cell.strip() for cell in record], line
                continue
            rows.append((line, record))
    except csv.Error as exc:
        raise ImportFileError(
            f"{file} tiene un error de formato CSV cerca de la línea {reader.line_num}: "
            f"{exc}. Revise las comillas de esa línea o exporte el paquete de nuevo.",
            code="CORRUPT_FILE") from None
    if header is None:
        return CsvTable(file=file, sha256=digest, header_line=1, headers=(), rows=(),
                        index={})
    index: dict[str, int] = {}
    for position, name in enumerate(header):
        key = name.lower()
        if not key:
            continue
        if key in index:
            raise ImportFileError(
                f"{file} tiene dos veces la columna «{name}» (columnas {index[key] + 1} y "
                f"{position + 1}). Deje solo una y vuelva a intentarlo.",
                code="DUPLICATE_COLUMN")
        index[key] = position
    missing = [column for column in REQUIRED_COLUMNS.get(file, ()) if column.lower()
               not in index]
    if missing:
        present = ", ".join(f"«{h}»" for h in header if h) or "(ninguna)"
        raise ImportFileError(
            f"A {file} le falta la columna {', '.join(f'«{m}»' for m in missing)} que exige "
            f"OneRoster 1.1. Columnas encontradas en la línea {header_line}: {present}.",
            code="MISSING_COLUMN")
    return CsvTable(file=file, sha256=digest, header_line=header_line, headers=tuple(header),
                    rows=rows, index=index)
