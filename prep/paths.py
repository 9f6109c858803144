"""Where things live: the data and cache folders, the config file, the decks folder, and how paths are shown."""

from __future__ import annotations

import functools
import os
from pathlib import Path

from prep.errors import ConfigError


def data_dir() -> Path:
    """The user data directory; `PREP_HOME` overrides it."""
    override = os.environ.get("PREP_HOME")
    if override:
        home = expand(override, "PREP_HOME")
        if home.exists() and not home.is_dir():
            raise ConfigError(f"PREP_HOME={override} is a file, not a folder: point it at a folder "
                              "(prep keeps its review database, settings and caches there)")
        return home
    from platformdirs import user_data_path

    return user_data_path("prep", appauthor=False)


def expand(text: str, name: str) -> Path:
    """A path given by the user, `~` or `~user` expanded; an error naming `name` if it cannot be."""
    try:
        return Path(text).expanduser()
    except RuntimeError:  # `~nobody-here/x`, or `~` with no home folder known
        raise ConfigError(f"{name} '{text}': cannot expand '~' (no such user, or no home folder)") from None


def database_path() -> Path:
    return data_dir() / "prep.db"


def cache_dir() -> Path:
    """The user cache folder (only speed depends on it); `PREP_CACHE` overrides it."""
    override = os.environ.get("PREP_CACHE")
    if override:
        return expand(override, "PREP_CACHE")
    from platformdirs import user_cache_path

    return user_cache_path("prep", appauthor=False)


def config_path() -> Path:
    return data_dir() / "config.yaml"


def bundled_decks() -> Path:
    """The question banks shipped with prep (inside the wheel, or beside the source tree)."""
    return installed_decks() or Path(__file__).resolve().parent.parent / "decks"


def installed_decks() -> Path | None:
    """The bundled decks inside the installed package (not editable: an upgrade replaces them), if any."""
    installed = Path(__file__).resolve().parent / "decks"
    return installed if installed.is_dir() else None


def is_installed_deck_file(path: Path) -> bool:
    """Whether a deck file belongs to the installed bundled decks (edit a copy: 'prep init')."""
    installed = installed_decks()
    return installed is not None and Path(path).resolve().is_relative_to(installed)


def resolve_decks(option: str | None) -> Path:
    """`--decks`/`PREP_DECKS`, else the `decks_folder` saved by `prep init`, else `./decks`, else the
    bundled decks."""
    if option:
        return _decks_folder(expand(option, "--decks"), f"decks folder '{option}'")
    from prep import config

    saved = config.load(config_path()).decks_folder
    if saved:
        return _decks_folder(expand(saved, "decks_folder"), f"the decks folder '{saved}' set in {config_path()}")
    local = Path("decks")
    if local.is_dir():
        return local
    return bundled_decks()


def _decks_folder(path: Path, named: str) -> Path:
    if not path.exists():
        raise ConfigError(f"{named} does not exist")
    if not path.is_dir():
        raise ConfigError(f"{named} is a file, not a folder: --decks takes the folder that holds the deck files "
                          "(to validate one file, run 'prep check FILE')")
    return path


def display_path(path: Path) -> str:
    """A path as the user should read it: relative to the current folder when inside it."""
    text = str(path)
    if not os.path.isabs(text) and ".." not in Path(text).parts:
        return text  # already relative to the current folder (the common case; no file-system calls)
    folder, name = os.path.split(text)
    shown_folder = _display_folder(folder, os.getcwd())  # resolved once per folder, not per file
    if shown_folder is None:
        return text
    return os.path.join(shown_folder, name) if shown_folder != "." else name


@functools.lru_cache(maxsize=4096)
def _display_folder(folder: str, cwd: str) -> str | None:
    try:
        return str(Path(folder).resolve().relative_to(Path(cwd).resolve()))
    except ValueError:
        return None

