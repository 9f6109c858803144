"""`prep init`: an editable copy of the bundled decks, remembered in the config when it is not ./decks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prep import paths
from prep.config import load, save_settings
from prep.files import copy_file
from prep.errors import PrepError


@dataclass
class Copied:
    target: Path
    files: int
    remembered: bool  # saved as `decks_folder` in config.yaml


def init(target: Path, config_path: Path) -> Copied:
    """Copy the bundled decks into `target` (new or empty); record it unless it is ./decks, which
    every command already picks from the current folder."""
    source = paths.bundled_decks()
    if target.exists() and not target.is_dir():
        raise PrepError(f"{target} is a file; name a new or empty folder for the decks")
    if target.is_dir() and any(target.iterdir()):
        raise PrepError(f"{target} already exists and is not empty; nothing was copied "
                        "(name a new or empty folder, e.g. 'prep init ~/prep-decks')")
    if target.resolve().is_relative_to(source.resolve()):
        raise PrepError(f"{target} is inside the bundled decks; name a folder outside them")
    files = 0
    for path in sorted(source.rglob("*")):
        relative = path.relative_to(source)
        if path.is_file() and not any(part.startswith(".") or part == "__pycache__" for part in relative.parts):
            (target / relative).parent.mkdir(parents=True, exist_ok=True)
            copy_file(path, target / relative, exclusive=True)  # never over a file that appeared meanwhile
            files += 1
    remembered = target.resolve() != Path("decks").resolve()
    if remembered:
        save_settings(config_path, decks_folder=str(target.resolve()))
    elif load(config_path).decks_folder:  # an older `prep init DIR` would otherwise win over ./decks
        save_settings(config_path, decks_folder=None)
    return Copied(target, files, remembered)
