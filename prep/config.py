"""Settings: defaults, the YAML config file in the data directory, and command-line overrides."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field, fields
from datetime import timedelta
from pathlib import Path
from typing import Any

from prep.errors import ConfigError


@dataclass
class Config:
    """Scheduling and session settings (see `prep config`)."""

    desired_retention: float = 0.9
    learning_steps: list[str] = field(default_factory=lambda: ["1m", "10m"])
    relearning_steps: list[str] = field(default_factory=lambda: ["10m"])
    maximum_interval: int = 36500  # days
    enable_fuzzing: bool = True
    new_per_day: int = 20
    reviews_per_day: int = 200
    day_starts_at: int = 4  # local hour when a new day begins, as in Anki
    learn_ahead_minutes: int = 20  # show a learning card early rather than end the session
    bury_siblings: bool = True  # a card's reverse and other cloze deletions wait for the next day
    leech_threshold: int = 8  # lapses after which a card is flagged as a leech
    backups_to_keep: int = 7  # daily copies of the review database
    typed_answers: bool = False  # prep review opens $EDITOR for a typed answer before each reveal
    code_time_limit: int = 10  # seconds a coding card's tests may run in `prep review`
    images: str = "auto"  # pictures in `prep review`: auto (when the terminal can), off, on (also under tmux/screen)
    parameters: list[float] | None = None  # fitted FSRS parameters; None means the defaults
    decks_folder: str | None = None  # set by 'prep init DIR'; --decks and PREP_DECKS come first

    def steps(self, which: str) -> tuple[timedelta, ...]:
        return tuple(parse_duration(step) for step in getattr(self, which))


def parse_duration(text: str) -> timedelta:
    """`90s`, `1m`, `10m`, `1h`, `1d` → timedelta."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd])\s*", str(text))
    if not match:
        raise ConfigError(f"bad step '{text}': use a number and s, m, h or d, such as 10m")
    unit = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}[match.group(2)]
    return timedelta(**{unit: float(match.group(1))})


def load(path: Path, overrides: dict[str, str] | None = None) -> Config:
    """Defaults, then the config file (if any), then `overrides` (strings from flags)."""
    values: dict[str, Any] = {}
    if path.is_file():
        import yaml

        try:
            loaded = yaml.load(path.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
        except yaml.YAMLError as error:
            raise ConfigError(f"{path}: not valid YAML: {error}") from None
        except UnicodeDecodeError:
            raise ConfigError(f"{path}: not UTF-8 text; fix or remove the file") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: expected settings as 'name: value' lines")
        values.update(loaded or {})
    config = Config()
    known = {f.name: f for f in fields(Config)}
    for name, value in values.items():
        if name not in known:
            raise ConfigError(f"{path}: unknown setting '{name}'; known: {', '.join(known)}")
        setattr(config, name, _coerce(name, value, path))
    for name, text in (overrides or {}).items():
        if name not in known:
            raise ConfigError(f"unknown setting '{name}'; known: {', '.join(known)}")
        import yaml

        setattr(config, name, _coerce(name, yaml.safe_load(text), "--set"))
    _validate(config)
    return config


def _coerce(name: str, value: Any, where: object) -> Any:
    default = getattr(Config(), name)
    try:
        if name in ("learning_steps", "relearning_steps"):
            items = value.split(",") if isinstance(value, str) else list(value or [])
            steps = [str(item).strip() for item in items if str(item).strip()]
            for step in steps:
                parse_duration(step)
            return steps
        if name == "images" and isinstance(value, bool):  # YAML reads a bare off/on as false/true
            return "on" if value else "off"
        if name == "parameters":
            return None if value is None else [float(v) for v in value]
        if isinstance(default, bool):
            if not isinstance(value, bool):
                raise ValueError
            return value
        if isinstance(default, int):
            if isinstance(value, bool) or int(value) != float(value):
                raise ValueError
            return int(value)
        if isinstance(default, float):
            return float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{where}: bad value {value!r} for '{name}'") from None
    return value


def _validate(config: Config) -> None:
    if not 0.7 <= config.desired_retention <= 0.99:
        raise ConfigError("desired_retention must be between 0.7 and 0.99")
    if not 0 <= config.day_starts_at <= 23:
        raise ConfigError("day_starts_at must be an hour from 0 to 23")
    for name in ("new_per_day", "reviews_per_day", "maximum_interval", "learn_ahead_minutes", "backups_to_keep",
                 "leech_threshold"):
        if getattr(config, name) < 0:
            raise ConfigError(f"{name} must not be negative")
    for name in ("enable_fuzzing", "bury_siblings", "typed_answers"):
        if not isinstance(getattr(config, name), bool):
            raise ConfigError(f"{name} must be true or false")
    if config.images not in ("auto", "off", "on"):
        raise ConfigError(f"images must be auto, off or on, not {config.images!r}")
    if config.code_time_limit < 1:
        raise ConfigError("code_time_limit must be at least 1 second")
    if config.maximum_interval < 1:
        raise ConfigError("maximum_interval must be at least 1 day")


def save_settings(path: Path, **settings: Any) -> None:
    """Set some settings in the config file, keeping the others, their order and the user's comments
    (a round-trip YAML edit, written atomically). A file that is not a mapping is refused, not replaced."""
    import io

    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    from prep import files

    yaml = YAML()  # round-trip: comments, order and quoting kept
    values: Any = None
    if path.is_file():
        try:
            values = yaml.load(path.read_text(encoding="utf-8"))
        except YAMLError as error:
            raise ConfigError(f"{path}: not valid YAML, so it was left as it is: {error}") from None
        if values is not None and not isinstance(values, dict):
            raise ConfigError(f"{path}: expected settings as 'name: value' lines; left as it is")
    if values is None:
        values = {}
    for name, value in settings.items():
        values[name] = value
    out = io.StringIO()
    yaml.dump(values, out)
    path.parent.mkdir(parents=True, exist_ok=True)
    files.write_text(path, out.getvalue())


def as_dict(config: Config) -> dict[str, Any]:
    return asdict(config)
