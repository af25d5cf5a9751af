"""The labelled corpus and the measured understanding (issue #20)."""

from __future__ import annotations

import unicodedata
from collections import Counter

import pytest

from eki_adapters.understanding import held_out, load_corpus, split, train
from eki_adapters.understanding.corpus import parse_corpus
from eki_adapters.understanding.evaluation import evaluate
from eki_domain.model.intent import Intent
from eki_domain.services.lexicon import normalize_text
from eki_entrypoints.cli.intents import GOAL, run_evaluation

#: The accuracy measured at the last change of the corpus or the model (93.92%, 1,097 of 1,168:
#: the fifth round's faster training, chosen by cross-validation, reads 3 utterances fewer than
#: the fourth round's 94.18%): a change that makes understanding worse fails here; raise it
#: when the numbers go up.
FLOOR = 0.939


def _symbols(text: str) -> frozenset[str]:
    return frozenset(ch for ch in text if unicodedata.category(ch)[0] == "S")


def test_the_corpus_is_large_varied_and_partly_english() -> None:
    corpus = load_corpus()
    assert len(corpus) >= 1200
    by_intent = Counter(item.intent for item in corpus)
    assert set(by_intent) == set(Intent)
    assert min(by_intent.values()) >= 40
    english = sum(1 for item in corpus if item.language == "en")
    assert 0.07 <= english / len(corpus) <= 0.15
    keys = [(normalize_text(item.text), _symbols(item.text)) for item in corpus]
    assert len(set(keys)) == len(keys)  # no utterance twice (emoji-only ones differ by emoji)


def test_the_held_out_split_is_fixed_by_the_text() -> None:
    corpus = load_corpus()
    training, test = split(corpus)
    assert 0.15 <= len(test) / len(corpus) <= 0.25
    assert {normalize_text(u.text) for u in training}.isdisjoint(
        {normalize_text(u.text) for u in test}
    )
    # Membership depends on the normalised text only: accents, case, punctuation aside.
    assert held_out("¿Cómo voy en MATE?") == held_out("como voy en mate")
    assert all(held_out(u.text) for u in test) and not any(held_out(u.text) for u in training)
    assert set(Counter(u.intent for u in test)) == set(Intent)


def test_training_is_deterministic() -> None:
    training, test = split(load_corpus())
    examples = [(u.text, u.intent) for u in training[:400]]
    first, second = train(examples), train(examples)
    for item in test[:50]:
        assert first.scores(item.text) == second.scores(item.text)


def test_bad_corpus_lines_are_named() -> None:
    with pytest.raises(ValueError, match="line 2: unknown intent 'nope'"):
        parse_corpus(["# comment", "nope\tes\thola"])
    with pytest.raises(ValueError, match="line 1: language"):
        parse_corpus(["saludo\tfr\tsalut"])
    with pytest.raises(ValueError, match="line 1: expected"):
        parse_corpus(["saludo hola"])


def test_understanding_does_not_regress_on_the_held_out_split() -> None:
    result, facts = run_evaluation()
    assert facts["held_out"] == result.total
    assert result.accuracy >= FLOOR, result.misses
    assert result.language_accuracy >= 0.95


@pytest.mark.xfail(strict=True, reason="issue #20's goal: 93.92% measured, 95% wanted")
def test_understanding_reaches_the_goal_on_the_held_out_split() -> None:
    result, _ = run_evaluation()
    assert result.accuracy >= GOAL


def test_the_rules_alone_are_measured_the_same_way() -> None:
    _, test = split(load_corpus())
    rules = evaluate(None, test)
    assert rules.total == len(test) and 0 < rules.accuracy < 1
    table = rules.to_dict()
    assert len(table["confusion"]) == len(table["labels"])
