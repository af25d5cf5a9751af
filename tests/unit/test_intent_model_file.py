"""The trained intent model shipped as a file (``eki_adapters.understanding.stored``)."""

from __future__ import annotations

import zlib
from importlib import resources

import pytest

from eki_adapters.understanding import load_corpus, stored, train
from eki_domain.model.intent import Intent

REBUILD = "stale intent model file: run scripts/build_intent_model and commit it"


def _shipped_bytes() -> bytes:
    return (resources.files("eki_adapters.understanding") / stored.MODEL_FILE).read_bytes()


def test_the_shipped_file_is_built_from_this_corpus_and_code() -> None:
    _, print_ = stored.load(_shipped_bytes())
    assert print_ == stored.fingerprint(), REBUILD
    assert stored.load_shipped() is not None


def test_the_shipped_file_is_what_training_gives_now() -> None:
    # Training is deterministic and the file's encoding too: rebuilding gives the same bytes.
    assert stored.build() == _shipped_bytes(), REBUILD


def test_a_model_survives_the_file() -> None:
    corpus = load_corpus()
    model = train((u.text, u.intent) for u in corpus[::7])
    loaded, print_ = stored.load(stored.dump(model, "abc"))
    assert print_ == "abc" and loaded.labels == model.labels
    assert loaded.feature_count == model.feature_count
    for item in corpus[1:400:9]:
        # Weights are stored as 32-bit floats: the same ranking, probabilities within 1e-5.
        before, after = model.classify(item.text), loaded.classify(item.text)
        assert [s.intent for s in before][:3] == [s.intent for s in after][:3]
        assert all(abs(a.probability - b.probability) < 1e-5
                   for a, b in zip(before, after, strict=True))  # fmt: skip


def test_the_fingerprint_follows_the_corpus() -> None:
    shipped = (resources.files("eki_adapters.understanding") / "corpus.tsv").read_bytes()
    assert stored.fingerprint(shipped) == stored.fingerprint()
    assert stored.fingerprint(shipped + b"saludo\tes\tholi\n") != stored.fingerprint()
    assert stored.fingerprint(shipped.replace(b"\n", b"\r\n")) == stored.fingerprint()


def test_a_stale_or_broken_file_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stored, "fingerprint", lambda corpus=None: "another corpus")
    assert stored.load_shipped() is None  # the caller trains instead


def test_unreadable_sources_mean_training_not_a_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(corpus: bytes | None = None) -> str:
        raise FileNotFoundError("linear.py")

    monkeypatch.setattr(stored, "fingerprint", missing)
    assert stored.load_shipped() is None  # the caller trains instead


def test_malformed_files_are_refused() -> None:
    good = _shipped_bytes()
    raw = zlib.decompress(good)
    with pytest.raises(ValueError, match="not an intent model file"):
        stored.load(b"garbage")
    with pytest.raises(ValueError, match="truncated"):
        stored.load(zlib.compress(raw[:-4]))
    with pytest.raises(ValueError, match="format"):
        stored.load(zlib.compress(raw.replace(b'"format": 1', b'"format": 99', 1)))
    with pytest.raises(ValueError, match="header"):
        stored.load(zlib.compress(b"{}\n"))
    with pytest.raises(ValueError, match="too large"):
        stored.load(zlib.compress(b"\0" * (stored.MAX_BYTES + 1)))


def test_the_loaded_model_reads_messages() -> None:
    model = stored.load_shipped()
    assert model is not None
    assert model.classify("hola profe")[0].intent is Intent.SALUDO
    assert model.classify("cuantas fallas tengo")[0].intent is Intent.ASISTENCIA
