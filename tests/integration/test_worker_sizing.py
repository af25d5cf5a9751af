"""The worker's default size follows what its turns wait on (issue 19 item 1): with a
language model configured, turns mostly wait on it, so a default worker keeps enough of
them in flight for a burst of students; with the rules only, a CPU-sized limit."""

from __future__ import annotations

from eki_entrypoints.bootstrap import bootstrap
from eki_entrypoints.cli.app import build_parser
from eki_entrypoints.envvars import Secret
from eki_entrypoints.settings import Settings
from eki_entrypoints.worker import MODEL_TURNS, RULE_TURNS, PipelineWorker


async def test_a_default_worker_with_a_model_keeps_a_burst_in_flight(database_url: str) -> None:
    eki = await bootstrap(Settings(database_url=database_url,
                                   openai_api_key=Secret("sk-test-not-used")))
    try:
        assert eki.model is not None
        assert PipelineWorker(eki).concurrency == MODEL_TURNS >= 500
        assert PipelineWorker(eki, concurrency=8).concurrency == 8  # the override wins
    finally:
        await eki.aclose()


async def test_a_default_worker_with_the_rules_only_is_cpu_sized(database_url: str) -> None:
    eki = await bootstrap(Settings(database_url=database_url))
    try:
        assert eki.model is None
        assert PipelineWorker(eki).concurrency == RULE_TURNS == 32
        assert PipelineWorker(eki, concurrency=600).concurrency == 600
    finally:
        await eki.aclose()


def test_the_cli_leaves_the_size_to_the_worker_unless_told() -> None:
    parser = build_parser()
    for command in (["serve"], ["worker"]):
        assert parser.parse_args(command).concurrency is None
        assert parser.parse_args([*command, "--concurrency", "64"]).concurrency == 64
