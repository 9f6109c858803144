"""`prep init`: an editable copy of the bundled decks that later commands use; bundled cards are not edited."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from prep import decks, drill, paths
from prep.cli import cli
from tests.conftest import DATA, write


def run(*args: str, code: int = 0, env: dict | None = None):
    result = CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def shipped_files() -> list[str]:
    root = paths.bundled_decks()
    return sorted(p.relative_to(root).as_posix() for p in root.rglob("*")
                  if p.is_file() and not any(part.startswith(".") or part == "__pycache__"
                                              for part in p.relative_to(root).parts))


def test_init_copies_the_bundled_decks_into_dot_decks(isolated: Path) -> None:
    output = run("init").output
    copied = sorted(p.relative_to(Path("decks")).as_posix() for p in Path("decks").rglob("*") if p.is_file())
    assert copied == shipped_files() and len(copied) > 100
    assert f"({len(copied)} files) into decks" in output
    assert (Path("decks") / "cs" / "sql.md").read_bytes() == (paths.bundled_decks() / "cs" / "sql.md").read_bytes()
    assert not paths.config_path().exists()  # ./decks is found from this folder without a setting
    assert "# decks:       decks" in run("config").output


def test_init_refuses_a_folder_that_is_not_empty(isolated: Path) -> None:
    write(Path("mine") / "notes.md", "my own cards\n")
    refused = run("init", "mine", code=1)
    assert "mine already exists and is not empty; nothing was copied" in refused.output
    assert [p.name for p in Path("mine").iterdir()] == ["notes.md"]
    assert not paths.config_path().exists()
    write(Path("a-file"), "x")
    assert "is a file" in run("init", "a-file", code=1).output


def test_a_folder_elsewhere_is_remembered_after_decks_option_and_before_dot_decks(
        isolated: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "elsewhere" / "my-decks"
    output = run("init", str(target)).output
    assert f"Saved decks_folder: {target}" in output
    assert yaml.safe_load(paths.config_path().read_text()) == {"decks_folder": str(target)}
    other = tmp_path / "other"
    write(other / "decks" / "local.md", "<!-- id: local -->\nQ: Local?\nA: Yes.\n")
    monkeypatch.chdir(other)
    assert paths.resolve_decks(None) == target  # the saved folder wins over ./decks
    assert paths.resolve_decks(str(DATA / "decks")) == DATA / "decks"  # --decks and PREP_DECKS win over it
    assert "Math::Probability" in run("stats", env={"PREP_DECKS": str(DATA / "decks")}).output
    shown = {row["deck"] for row in json.loads(run("decks", "--json").output)}
    assert "CS::SQL" in shown and "Local" not in shown
    target.rename(tmp_path / "moved")
    missing = run("stats", code=1)
    assert f"the decks folder '{target}' set in {paths.config_path()} does not exist" in missing.output
    monkeypatch.chdir(isolated.parent / "work")
    run("init")  # into ./decks: the setting is cleared so ./decks is used again
    assert yaml.safe_load(paths.config_path().read_text()) == {"decks_folder": None}
    assert paths.resolve_decks(None) == Path("decks")


def test_edit_on_a_bundled_card_suggests_init_instead_of_opening_the_editor(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    installed = tmp_path / "site-packages" / "prep" / "decks"
    write(installed / "ml" / "basics.md", (DATA / "decks" / "ml" / "basics.md").read_text())
    monkeypatch.setattr(paths, "installed_decks", lambda: installed)
    marker = tmp_path / "editor-ran"
    monkeypatch.setenv("EDITOR", f"{sys.executable} -c \"import pathlib; pathlib.Path({str(marker)!r}).touch()\"")
    loaded = decks.load(installed)
    card = loaded.card("ml-overfitting")
    assert card is not None
    same, message = drill._edit(None, card, loaded)  # type: ignore[arg-type]  # no session needed to refuse
    assert same is card
    assert message == "These are the bundled decks; run 'prep init' to get an editable copy."
    assert not marker.exists()
    monkeypatch.setattr(paths, "installed_decks", lambda: None)  # a source checkout: its decks are the author's
    assert not paths.is_installed_deck_file(installed / "ml" / "basics.md")
