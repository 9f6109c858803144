"""The FSRS wrapper: settings it cannot use are a ConfigError the CLI reports in one line."""

from __future__ import annotations

import pytest

from prep import scheduler
from prep.config import Config
from prep.errors import ConfigError


@pytest.mark.parametrize("parameters, shown", [([1.0, 2.0, 3.0], "Expected 21 parameters, got 3."),
                                               ([float("nan")] * 21, "out of bounds")])
def test_hand_edited_parameters_fsrs_refuses_are_a_config_error(parameters: list[float], shown: str) -> None:
    with pytest.raises(ConfigError, match="FSRS parameters set in the config file cannot be used") as raised:
        scheduler.make(Config(parameters=parameters))
    assert shown in str(raised.value) and "\n" not in str(raised.value)
