"""Where things live: the data directory, the config file and the decks folder."""

from __future__ import annotations

import os
from pathlib import Path

from prep.errors import ConfigError


def data_dir() -> Path:
    """The user data directory; `PREP_HOME` overrides it."""
    override = os.environ.get("PREP_HOME")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_data_path

    return user_data_path("prep", appauthor=False)


def database_path() -> Path:
    return data_dir() / "prep.db"


def cache_dir() -> Path:
    return data_dir() / "cache"


def config_path() -> Path:
    return data_dir() / "config.yaml"


def bundled_decks() -> Path:
    """The question banks shipped with prep (inside the wheel, or beside the source tree)."""
    here = Path(__file__).resolve().parent
    installed = here / "decks"
    return installed if installed.is_dir() else here.parent / "decks"


def resolve_decks(option: str | None) -> Path:
    """`--decks`/`PREP_DECKS`, else `./decks`, else the bundled decks."""
    if option:
        path = Path(option).expanduser()
        if not path.exists():
            raise ConfigError(f"decks folder '{option}' does not exist")
        return path
    local = Path("decks")
    if local.is_dir():
        return local
    return bundled_decks()
