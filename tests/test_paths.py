"""Where things live: paths the user gives through the environment, options and the config file."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from prep.cli import cli


@pytest.mark.parametrize("variable, args", [("PREP_CACHE", ["decks"]), ("PREP_HOME", ["config"]),
                                            ("PREP_DECKS", ["decks"])])
def test_a_tilde_of_no_known_user_is_an_error_not_a_traceback(variable: str, args: list[str]) -> None:
    result = CliRunner().invoke(cli, args, env={variable: "~no-such-user-here/x"})
    assert result.exit_code == 1, result.output
    name = "--decks" if variable == "PREP_DECKS" else variable
    assert result.output == f"Error: {name} '~no-such-user-here/x': cannot expand '~' (no such user, or no home folder)\n"
