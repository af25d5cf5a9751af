"""The options of the file imports and the ``--country`` argument type: imported before
the rest of EKI loads (:mod:`.readahead` checks an import's command line with them), so
this module imports nothing of EKI at the top (nor phonenumbers, which :func:`region` loads
when an option is a region: the read-ahead starts sooner)."""

from __future__ import annotations

import argparse

#: A local file may be far larger than an upload (a school year of grades): the 50 MB
#: limit protects the web server, not the command line.
CLI_MAX_IMPORT_BYTES = 2 * 1024**3


def region(raw: str) -> str:
    import phonenumbers

    code = raw.strip().upper()
    if code not in phonenumbers.SUPPORTED_REGIONS:
        raise argparse.ArgumentTypeError(f"{raw!r} is not a region code such as CO, MX, AR")
    return code


def import_options(parser: argparse.ArgumentParser) -> None:
    """The options of ``eki students|guardians|consent|progress import``."""
    parser.add_argument("file", metavar="FILE")
    parser.add_argument("--dry-run", action="store_true",
                        help="do everything, then roll back: see what would happen")
    parser.add_argument("--strict", action="store_true", help="any error: write nothing")
    parser.add_argument("--country", type=region, default=None, metavar="CC",
                        help="region for phones without a country code (default "
                        "EKI_DEFAULT_COUNTRY)")
    parser.add_argument("--json", action="store_true", help="print the full report as JSON")
    parser.add_argument("--errors-out", metavar="FILE",
                        help="write the rejected rows (.xlsx or .csv) to fix and re-import")
    # The file read ahead, if it was (``eki_entrypoints.cli.app.run`` sets it).
    parser.set_defaults(read_ahead=None)


def progress_options(parser: argparse.ArgumentParser) -> None:
    """``eki progress import``: the import options and ``--kind``."""
    from eki_domain.model.gradebook import ProgressKind

    import_options(parser)
    parser.add_argument("--kind", choices=[k.value for k in ProgressKind],
                        help="skip detection: grades, attendance or enrollments")
