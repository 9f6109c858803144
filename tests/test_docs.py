"""The README's promises: the test command CI runs, and a section for every command."""

from __future__ import annotations

import re
from pathlib import Path

from prep.cli import cli

TOP = Path(__file__).parent.parent


def test_ci_runs_the_readme_test_command() -> None:
    readme = (TOP / "README.md").read_text()
    commands = re.findall(r"```bash\n(.+?)\n```", readme)
    assert commands[0] == "python3 -m pip install . && prep review"
    test_command = commands[1]
    assert "pytest" in test_command
    assert test_command in (TOP / ".ci" / "run").read_text().splitlines()


def test_every_command_has_help_and_is_in_the_readme() -> None:
    readme = (TOP / "README.md").read_text()
    for name, command in cli.commands.items():
        assert command.help, name
        assert f"prep {name}" in readme, name


def test_every_command_takes_decks_as_the_readme_says() -> None:
    from click.testing import CliRunner

    assert "Every command takes `--decks DIR`" in (TOP / "README.md").read_text()
    for name, command in cli.commands.items():
        assert "decks_dir" in [param.name for param in command.params], name
        assert "--decks DIR" in CliRunner().invoke(cli, [name, "--help"]).output, name
