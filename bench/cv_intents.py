"""K-fold cross-validation of understanding on the TRAINING split only (issue #20).

Usage::

    python bench/cv_intents.py [--folds 5] [--repeats 1] [--set linear.NB_ALPHA=0.1 ...]
                               [--misses] [--json]

This is the tool to tune with: it never reads the held-out fifth (``corpus.held_out``).
``--repeats R`` reshuffles the training split R times (fixed seeds) and averages;
``--base CORPUS.tsv`` measures what new utterances bring: only the training utterances that
are also in that (older) corpus are cross-validated, the others are always trained on (so a
sentence is never tested against its own author's near-copies);
``--set module.NAME=value`` overrides a constant of ``eki_adapters.understanding.linear`` or
``eki_domain.services.understanding`` for the run; ``--misses`` lists the cross-validation
misses (training utterances only).
"""

from __future__ import annotations

import argparse
import ast
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from eki_adapters.understanding import linear
from eki_adapters.understanding.corpus import Utterance, load_corpus, split
from eki_adapters.understanding.evaluation import cross_validate
from eki_domain.services import understanding

_MODULES = {"linear": linear, "understanding": understanding}


def _override(spec: str) -> None:
    name, _, value = spec.partition("=")
    module, _, attr = name.partition(".")
    target = _MODULES[module]
    if not hasattr(target, attr):
        raise SystemExit(f"no constant {name}")
    setattr(target, attr, ast.literal_eval(value))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], metavar="MODULE.NAME=VALUE")
    parser.add_argument("--base", type=Path, metavar="CORPUS.tsv",
                        help="cross-validate only the utterances of this older corpus")
    parser.add_argument("--misses", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    for spec in args.set:
        _override(spec)
    training, _ = split(load_corpus())  # the held-out fifth is dropped here, unread
    extra: list[Utterance] = []
    if args.base is not None:
        old = {item.text for item in load_corpus(args.base)}
        extra = [item for item in training if item.text not in old]
        training = [item for item in training if item.text in old]
    started = time.process_time()
    accuracies: list[float] = []
    confusion: Counter[tuple[str, str]] = Counter()
    misses: list[tuple[str, str, str]] = []
    for repeat in range(args.repeats):
        items = list(training)
        if repeat:
            random.Random(repeat).shuffle(items)
        result = cross_validate(items, args.folds, always=extra)
        accuracies.append(result.accuracy)
        confusion.update(result.confusion)
        if repeat == 0:
            misses = list(result.misses)
    mean = sum(accuracies) / len(accuracies)
    report = {
        "training": len(training),
        "always_trained": len(extra),
        "folds": args.folds,
        "accuracies": [round(a, 4) for a in accuracies],
        "mean": round(mean, 4),
        "cpu_s": round(time.process_time() - started, 1),
        "overrides": args.set,
    }
    if args.json:
        print(json.dumps(report))
    else:
        print(" ".join(f"{k}={v}" for k, v in report.items()))
        top = Counter({k: v for k, v in confusion.items() if k[0] != k[1]}).most_common(15)
        print("top confusions (expected -> predicted):",
              ", ".join(f"{e}->{p} {n}" for (e, p), n in top))
    if args.misses:
        for text, expected, predicted in misses:
            print(f"{expected}\t{predicted}\t{text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
