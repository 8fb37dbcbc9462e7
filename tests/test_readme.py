"""The README is part of the product: its commands and its configuration table must be true."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from joinedup.cli import app

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_quick_start_has_exactly_two_commands() -> None:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    commands = [line for line in block.group(1).splitlines() if line.strip()]
    assert [c.split("#")[0].strip() for c in commands] == ["make demo", "make test"]


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def test_configuration_table_matches_the_settings() -> None:
    result = CliRunner().invoke(app, ["settings", "--markdown"])
    assert result.exit_code == 0, result.output
    table = README.split("<!-- settings:start -->", 1)[1].split("<!-- settings:end -->", 1)[0]
    assert table.strip() == result.output.strip(), (
        "README configuration table is stale: regenerate it with `joinedup settings --markdown`"
    )


def test_every_cli_command_is_documented() -> None:
    for command in ("demo", "serve", "worker", "migrate", "seed", "bench", "log"):
        assert f"joinedup {command}" in README, command
        result = CliRunner().invoke(app, [command, "--help"])
        assert result.exit_code == 0, (command, result.output)
