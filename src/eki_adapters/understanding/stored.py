"""The trained intent model shipped as a file (package data), so EKI does not train at start.

``intent_model.bin`` is written by ``python3 scripts/build_intent_model`` (it trains
:func:`~eki_adapters.understanding.linear.train` on the whole corpus). It records the
*fingerprint* of what the model was trained from — the corpus and the source of the code that
turns a message into features (the rules, the word lists, ``linear.py``) — and
:func:`load_shipped` only returns it while that fingerprint is current: after the corpus or the
rules change and before the file is rebuilt, EKI trains at start as it did before (and
``tests/unit/test_intent_model_file.py`` fails until the file is rebuilt).

The file: a zlib-compressed JSON header line (format, fingerprint, labels, biases, constants,
sizes), the feature names one a line, then, per intent, the machine's weights and the naive
Bayes' log-likelihoods as little-endian 32-bit floats (read back as doubles).
"""

from __future__ import annotations

import hashlib
import json
import logging
import sys
import zlib
from array import array
from importlib import resources
from pathlib import Path
from typing import Final

from eki_adapters.understanding import linear
from eki_adapters.understanding.corpus import CORPUS_FILE, parse_corpus
from eki_adapters.understanding.linear import LinearIntentModel
from eki_domain.model import intent as intent_model
from eki_domain.model.intent import Intent
from eki_domain.services import intents, lexicon, wordlists

__all__ = ["MODEL_FILE", "build", "dump", "fingerprint", "load", "load_shipped"]

log = logging.getLogger("eki.understanding")

MODEL_FILE: Final = "intent_model.bin"
FORMAT: Final = 1
#: Bounds on what the loader accepts (the file is the project's own, but stay defensive).
MAX_BYTES: Final = 64_000_000
MAX_FEATURES: Final = 1_000_000

#: The code a message's features and the model depend on (with the corpus).
_SOURCES: Final = (intent_model, intents, lexicon, wordlists, linear)


def _package() -> str:
    return __package__ or "eki_adapters.understanding"


def fingerprint(corpus: bytes | None = None) -> str:
    """SHA-256 of the corpus and of the sources the model depends on (line endings aside)."""
    digest = hashlib.sha256(f"format {FORMAT}\n".encode())
    if corpus is None:
        corpus = (resources.files(_package()) / CORPUS_FILE).read_bytes()
    for part in (corpus, *(Path(str(module.__file__)).read_bytes() for module in _SOURCES)):
        digest.update(hashlib.sha256(part.replace(b"\r\n", b"\n")).digest())
    return digest.hexdigest()


def _floats(values: array[float]) -> bytes:
    packed = array("f", values)
    if sys.byteorder == "big":  # pragma: no cover - the file is little-endian everywhere
        packed.byteswap()
    return packed.tobytes()


def _doubles(raw: bytes) -> array[float]:
    packed = array("f")
    packed.frombytes(raw)
    if sys.byteorder == "big":  # pragma: no cover
        packed.byteswap()
    return array("d", packed)


def dump(model: LinearIntentModel, print_: str) -> bytes:
    """The file's bytes for ``model`` trained from what ``print_`` fingerprints."""
    vocabulary, svm, bayes = model.columns()
    names = sorted(vocabulary, key=vocabulary.__getitem__)
    if any("\n" in name for name in names):
        raise ValueError("a feature name holds a line break")
    body = "\n".join(names).encode("utf-8")
    header = {
        "format": FORMAT,
        "fingerprint": print_,
        "labels": [label.value for label in model.labels],
        "bias": list(model.bias),
        "temperature": model.temperature,
        "nb_weight": model.nb_weight,
        "features": len(names),
        "names_bytes": len(body),
        "bayes": bool(bayes),
    }
    rows = [*svm, *bayes]
    weights = b"".join(_floats(row) for row in rows)
    return zlib.compress(json.dumps(header).encode() + b"\n" + body + weights, 9)


def load(data: bytes) -> tuple[LinearIntentModel, str]:
    """(the model, its fingerprint) from the file's bytes; ``ValueError`` when malformed."""
    inflate = zlib.decompressobj()
    try:
        raw = inflate.decompress(data, MAX_BYTES)
    except zlib.error as error:
        raise ValueError(f"not an intent model file: {error}") from None
    if inflate.unconsumed_tail:
        raise ValueError("intent model file too large")
    first, _, rest = raw.partition(b"\n")
    try:
        header = json.loads(first)
        if header["format"] != FORMAT:
            raise ValueError(f"intent model format {header['format']}, not {FORMAT}")
        labels = [Intent(value) for value in header["labels"]]
        count, size = int(header["features"]), int(header["names_bytes"])
        bias = [float(b) for b in header["bias"]]
        print_ = str(header["fingerprint"])
        temperature, nb_weight = float(header["temperature"]), float(header["nb_weight"])
        with_bayes = bool(header["bayes"])
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"bad intent model header: {error}") from None
    rows = len(labels) * (2 if with_bayes else 1)
    if not 0 < count <= MAX_FEATURES or len(bias) != len(labels):
        raise ValueError("bad intent model sizes")
    if len(rest) != size + rows * count * 4:
        raise ValueError("intent model file truncated")
    names = rest[:size].decode("utf-8").split("\n")
    if len(names) != count or len(set(names)) != count:
        raise ValueError("bad intent model feature names")
    vocabulary = {name: i for i, name in enumerate(names)}
    step = count * 4
    weights = [_doubles(rest[size + r * step : size + (r + 1) * step]) for r in range(rows)]
    svm, bayes = weights[: len(labels)], weights[len(labels) :]
    model = LinearIntentModel(labels, vocabulary, svm, bias, bayes,
                              temperature=temperature, nb_weight=nb_weight)  # fmt: skip
    return model, print_


def load_shipped() -> LinearIntentModel | None:
    """The shipped model, or ``None`` when the file is missing, unreadable or stale (trained
    from another corpus or other rules than this code's: the caller trains instead)."""
    source = resources.files(_package()) / MODEL_FILE
    try:
        model, print_ = load(source.read_bytes())
        current = fingerprint()  # reads the sources: absent from a byte-code-only install
    except (OSError, ValueError) as error:
        log.warning("intent model file not used (%s): training at start instead", error)
        return None
    if print_ != current:
        log.warning("intent model file is stale (corpus or rules changed since it was "
                    "built; run scripts/build_intent_model): training at start instead")
        return None
    return model


def build() -> bytes:
    """The file's bytes for the model trained on the whole shipped corpus (what
    ``scripts/build_intent_model`` writes)."""
    corpus = (resources.files(_package()) / CORPUS_FILE).read_bytes()
    utterances = parse_corpus(corpus.decode("utf-8").splitlines())
    model = linear.train((item.text, item.intent) for item in utterances)
    return dump(model, fingerprint(corpus))
