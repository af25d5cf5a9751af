"""The checked-in .env.example and README table are generated from the settings' declarations."""

from __future__ import annotations

from pathlib import Path

import attrs
import pytest

from eki_entrypoints.settings import Settings, env_vars
from eki_entrypoints.settings_docs import env_example, readme_table, readme_with_table

ROOT = Path(__file__).resolve().parents[2]
FIX = "run `python3 scripts/gen_settings_docs` and commit the result"


def test_env_example_is_generated_from_the_settings() -> None:
    assert (ROOT / ".env.example").read_text("utf-8") == env_example(), FIX


def test_readme_table_is_generated_from_the_settings() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    assert readme_table() in readme, FIX
    assert readme_with_table(readme) == readme, FIX


def test_every_setting_is_documented_once() -> None:
    names = [var.name for _, var in env_vars()]
    assert len(names) == len(set(names))
    example = env_example()
    for name in names:
        assert example.count(f"\n{name}=") == 1, name
        assert readme_table().count(f"| `{name}` |") == 1, name
    # Every field but the derived `production` flag is read from the environment.
    fields = {f.name for f in attrs.fields(Settings)}
    assert fields - {field.name for field, _ in env_vars()} == {"production"}


def test_the_example_file_reads_back_as_the_defaults() -> None:
    """``.env.example`` as an environment gives exactly the defaults (nothing breaks)."""
    environ = {}
    for line in env_example().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            environ[name] = value
    assert Settings.from_env(environ) == Settings.from_env({}) == Settings()


def test_secrets_are_marked_and_default_to_unset() -> None:
    secrets = {var.name for _, var in env_vars() if var.secret}
    assert {"EKI_ADMIN_TOKEN", "OPENAI_API_KEY", "EKI_TWILIO_AUTH_TOKEN"} <= secrets
    for field, var in env_vars():
        if var.secret:
            assert field.default is None, var.name


def test_a_readme_without_markers_is_refused() -> None:
    with pytest.raises(ValueError, match="markers"):
        readme_with_table("# no table here\n")
