"""Settings: a config file a user or another program damaged is a one-line error."""

from __future__ import annotations

from pathlib import Path

import pytest

from prep import config
from prep.errors import ConfigError


def test_a_config_file_that_is_not_utf8_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_bytes(b"\xff\xfe\x00new_per_day: 5\n")
    with pytest.raises(ConfigError, match="not UTF-8 text"):
        config.load(path)
