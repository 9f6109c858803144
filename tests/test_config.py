"""Settings: the config file's edits keep what the user wrote (comments, order, other settings)."""

from __future__ import annotations

from pathlib import Path

import pytest

from prep import config, paths
from prep.errors import ConfigError
from tests.conftest import write
from tests.test_plan import build, run_plan

MINE = """# my settings: keep these notes
new_per_day: 5   # busy weeks
enable_fuzzing: true

# the steps I like
learning_steps: [1m, 10m]
"""


def test_plan_save_keeps_the_users_comments_and_order(decks_dir: Path, isolated: Path) -> None:
    write(paths.config_path(), MINE)
    build(paths.database_path())
    data = run_plan("--save", "--target", "0.92")
    text = paths.config_path().read_text(encoding="utf-8")
    for line in ("# my settings: keep these notes", "# the steps I like", "enable_fuzzing: true",
                 "learning_steps: [1m, 10m]"):
        assert line in text
    assert f"new_per_day: {data['new_per_day']}   # busy weeks" in text  # the value changed, its comment stayed
    assert text.index("new_per_day") < text.index("enable_fuzzing") < text.index("learning_steps")
    loaded = config.load(paths.config_path())
    assert loaded.new_per_day == data["new_per_day"] and loaded.desired_retention == 0.92


def test_a_config_file_that_is_not_settings_is_never_replaced(tmp_path: Path) -> None:
    for text in ("- a list\n- not settings\n", "key: [unclosed\n"):
        path = write(tmp_path / "config.yaml", text)
        with pytest.raises(ConfigError, match="left as it is"):
            config.save_settings(path, new_per_day=3)
        assert path.read_text(encoding="utf-8") == text


def test_a_config_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(b"\xff\xfe\x00new_per_day: 5\n")
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        config.load(path)
