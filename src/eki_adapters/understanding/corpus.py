"""The labelled corpus: what students and parents write, with the intent it asks for.

``corpus.tsv`` (package data, next to this module) has one utterance a line:
``intent<TAB>language<TAB>text``; lines starting with ``#`` are comments. The held-out split
is fixed: an utterance is held out when the SHA-256 of its normalised text (lower case,
accents and punctuation removed) falls in the first fifth, so adding utterances never moves
an old one from one split to the other, and nothing is tuned on the held-out fifth.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from importlib import resources
from pathlib import Path
from typing import Final

import attrs

from eki_domain.model.intent import Intent
from eki_domain.services.lexicon import normalize_text

__all__ = ["Utterance", "held_out", "load_corpus", "parse_corpus", "split"]

CORPUS_FILE: Final = "corpus.tsv"
LANGUAGES: Final = frozenset({"es", "en"})
#: One utterance in HELD_OUT_BUCKETS is held out (20%).
HELD_OUT_BUCKETS: Final = 5
#: Bounds on what the loader reads (the file is the project's own, but stay defensive).
MAX_LINES: Final = 50_000
MAX_TEXT: Final = 1_000


@attrs.frozen
class Utterance:
    text: str
    intent: Intent
    language: str  # "es" or "en"
    line: int = 0


def held_out(text: str) -> bool:
    """True for the fixed held-out fifth (by a hash of the normalised text)."""
    digest = hashlib.sha256(normalize_text(text).encode("utf-8")).digest()
    return int.from_bytes(digest[:4], "big") % HELD_OUT_BUCKETS == 0


def parse_corpus(lines: Iterable[str]) -> list[Utterance]:
    """Parse TSV lines; a bad line raises ``ValueError`` naming its number."""
    out: list[Utterance] = []
    for number, raw in enumerate(lines, start=1):
        if number > MAX_LINES:
            raise ValueError(f"corpus longer than {MAX_LINES} lines")
        line = raw.rstrip("\r\n")
        if not line.strip() or line.startswith("#"):
            continue
        parts = line.split("\t")
        if len(parts) != 3:
            raise ValueError(f"line {number}: expected intent<TAB>language<TAB>text")
        label, language, text = (part.strip() for part in parts)
        try:
            intent = Intent(label)
        except ValueError:
            raise ValueError(f"line {number}: unknown intent {label!r}") from None
        if language not in LANGUAGES:
            raise ValueError(f"line {number}: language must be es or en, not {language!r}")
        if not text or len(text) > MAX_TEXT:
            raise ValueError(f"line {number}: text empty or longer than {MAX_TEXT}")
        out.append(Utterance(text, intent, language, number))
    return out


def load_corpus(path: Path | None = None) -> list[Utterance]:
    """The shipped corpus (or the TSV file at ``path``)."""
    if path is not None:
        return parse_corpus(path.read_text(encoding="utf-8").splitlines())
    source = resources.files(__package__ or "eki_adapters.understanding") / CORPUS_FILE
    return parse_corpus(source.read_text(encoding="utf-8").splitlines())


def split(corpus: Sequence[Utterance]) -> tuple[list[Utterance], list[Utterance]]:
    """(training, held-out)."""
    train = [item for item in corpus if not held_out(item.text)]
    test = [item for item in corpus if held_out(item.text)]
    return train, test
