"""Where things live: the data directory, the config file, the decks folder, and the clock."""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path

from prep.errors import ConfigError


def data_dir() -> Path:
    """The user data directory; `PREP_HOME` overrides it."""
    override = os.environ.get("PREP_HOME")
    if override:
        home = Path(override).expanduser()
        if home.exists() and not home.is_dir():
            raise ConfigError(f"PREP_HOME={override} is a file, not a folder: point it at a folder "
                              "(prep keeps its review database, settings and caches there)")
        return home
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


def now() -> datetime:
    """The current time (aware, UTC); `PREP_NOW` (ISO 8601) pins it for reproducible runs."""
    pinned = os.environ.get("PREP_NOW")
    if not pinned:
        return datetime.now(timezone.utc)
    try:
        moment = datetime.fromisoformat(pinned.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"PREP_NOW='{pinned}' is not an ISO 8601 time such as 2026-01-31T09:00:00Z") from None
    if moment.tzinfo is None:
        moment = moment.astimezone()  # a naive time means local time
    return moment.astimezone(timezone.utc)
