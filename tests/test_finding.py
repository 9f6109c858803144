"""Finding cards: `prep decks`, `search`, `show`, shell completion, and ids or decks that name nothing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from click.testing import CliRunner

from prep import paths, scheduler
from prep.cli import cli
from prep.config import Config
from prep.store import Store

NOW = datetime(2026, 3, 2, 10, 0, tzinfo=timezone.utc)


def run(*args: str, code: int = 0):
    result = CliRunner().invoke(cli, list(args), env={"PREP_NOW": NOW.isoformat()}, catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


def test_decks_lists_the_tree_with_cards_per_deck_and_subdeck_totals(decks_dir: Path) -> None:
    lines = run("decks").output.splitlines()
    assert [line.split() for line in lines] == [["Math", "5"], ["Probability", "5"], ["ML", "3"], ["Basics", "3"],
                                                ["Total", "8", "cards"]]
    assert lines[1].startswith("  Probability")  # sub-decks are indented under their parent
    data = json.loads(run("decks", "--json").output)
    assert data[0] == {"deck": "Math", "depth": 0, "own": 0, "total": 5}


def test_search_finds_text_in_any_field_or_tag_ignoring_case(decks_dir: Path) -> None:
    assert run("search", "SQUARED MEAN").output.splitlines() == [
        "prob-variance  Math::Probability  The variance is {{c1::$E[X^2] - E[X]^2$}}, the mean square minus the "
        "{{c2::squared mean}}.", "1 note matches 'SQUARED MEAN'."]
    assert [line.split()[0] for line in run("search", "sigmoid").output.splitlines()[:-1]] == [
        "ml-curve"]  # its answer; ml-sigmoid-code has it only in its id
    assert [hit["id"] for hit in json.loads(run("search", "easy", "--json").output)] == [
        "prob-bayes-rule", "ml-overfitting"]  # tags count
    assert [hit["id"] for hit in json.loads(run("search", "IS", "--deck", "ml", "--json").output)] == [
        "ml-overfitting", "ml-sigmoid-code", "ml-curve"]
    nothing = run("search", "no such words", code=1)
    assert "0 notes match 'no such words'." in nothing.output


def test_show_prints_both_sides_file_line_and_the_review_history(decks_dir: Path, isolated: Path) -> None:
    fsrs = scheduler.make(Config())
    with Store(paths.database_path()) as store:
        for days_ago, rating in ((3, 3), (1, 1)):
            store.apply("prob-bayes-rule", rating, NOW - timedelta(days=days_ago), 4000,
                        lambda state, at: scheduler.review(fsrs, state, "prob-bayes-rule", rating, at))
        store.suspend(["prob-bayes-rule"], NOW, "manual")
    output = run("show", "prob-bayes-rule").output
    for text in ("prob-bayes-rule  (basic note prob-bayes-rule)", "deck: Math::Probability",
                 "file: decks/math/probability.yaml:4", "tags: probability, easy", "; suspended (manual)",
                 "State Bayes' rule.", "P(A | B) = (P(B | A) P(A))/P(B)", "2 reviews, 0 lapses:",
                 f"{(NOW - timedelta(days=3)).astimezone():%Y-%m-%d %H:%M}  Good",  # in local time
                 f"{(NOW - timedelta(days=1)).astimezone():%Y-%m-%d %H:%M}  Again"):
        assert text in output, text
    assert output.index("State Bayes' rule.") < output.index("P(A | B)") < output.index("2 reviews")
    data = json.loads(run("show", "prob-variance", "--json").output)  # a cloze note's id: each of its cards
    assert [card["id"] for card in data] == ["prob-variance/c1", "prob-variance/c2"]
    assert data[0]["state"] is None and data[0]["reviews"] == [] and data[0]["line"] == 9
    assert [card["id"] for card in json.loads(run("show", "prob-pmf/rev", "--json").output)] == ["prob-pmf/rev"]


def test_unknown_id_is_an_error_with_close_ids(decks_dir: Path) -> None:
    result = run("show", "prob-variance/c3", code=1)
    assert result.output.startswith("Error: no card has the id 'prob-variance/c3' (did you mean 'prob-variance/c")
    assert "'prob-variance/c1'" in result.output and "'prob-variance/c2'" in result.output
    for command in (["suspend", "no-such-card"], ["unsuspend", "no-such-card"]):
        refused = run(*command, code=1)
        assert "no card has the id 'no-such-card'" in refused.output and "nothing was changed" in refused.output
    with Store(paths.database_path()) as store:
        assert store.suspended() == {}
    assert run("suspend", "prob-pmf", "prob-pmf").output == "Suspended 1 card.\n"
    assert run("suspend", "prob-pmf").output == "Suspended 0 cards (1 already suspended).\n"
    assert run("unsuspend", "prob-pmf", "ml-curve").output == "Unsuspended 1 card (1 was not suspended).\n"
    both = run("suspend", "nope-1", "prob-pmf", "nope-2", code=1)
    assert "no cards have the ids 'nope-1', 'nope-2'; nothing was changed" in both.output


def test_an_id_known_only_to_the_database_can_still_be_unsuspended(decks_dir: Path) -> None:
    with Store(paths.database_path()) as store:
        store.suspend(["removed-card"], NOW, "manual")  # its note was deleted from the decks since
    assert run("unsuspend", "removed-card").output == "Unsuspended 1 card.\n"


def test_unknown_deck_is_an_error_in_every_command_with_deck(decks_dir: Path) -> None:
    for command in (["stats"], ["plan", "--interview", "2026-03-20"], ["export", "-o", "x.apkg"], ["search", "a"]):
        result = run(*command, "--deck", "maths", code=1)
        assert "no deck matches --deck 'maths' (did you mean 'Math'" in result.output, command
    assert not Path("x.apkg").exists()
    assert "Math::Probability" in run("stats", "--deck", "math/prob").output


def test_decks_that_is_a_file_is_an_error_not_a_traceback(decks_dir: Path) -> None:
    for command in (["stats"], ["catalog"], ["decks"], ["plan", "--interview", "2026-03-20"]):
        result = run(*command, "--decks", str(decks_dir / "math" / "probability.yaml"), code=1)
        assert result.output.startswith("Error: decks folder ") and "is a file, not a folder" in result.output


def complete(words: str, decks_dir: Path) -> list[str]:
    """What the shell would offer, from a real `prep` process driven the way bash's script drives it."""
    env = dict(os.environ, _PREP_COMPLETE="bash_complete", COMP_WORDS=words, COMP_CWORD=str(len(words.split(" ")) - 1))
    done = subprocess.run([sys.executable, "-m", "prep"], cwd=decks_dir.parent, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return [line.split(",", 1)[1] for line in done.stdout.splitlines()]  # "plain,VALUE" per item


def test_completion_script_and_deck_and_card_completion(decks_dir: Path) -> None:
    for shell, marker in (("bash", "complete -o nosort -F"), ("zsh", "#compdef prep"), ("fish", "complete --no-files")):
        assert marker in run("completion", shell).output, shell
    assert complete("prep stats --deck math/", decks_dir) == ["math/probability"]
    assert complete("prep review --deck Math::", decks_dir) == ["Math::Probability"]
    assert complete("prep review --deck M", decks_dir) == ["Math", "math", "math/probability", "Math::Probability",
                                                           "ML", "ml", "ml/basics", "ML::Basics"]
    assert complete("prep show prob-v", decks_dir) == ["prob-variance/c1", "prob-variance/c2"]
    assert complete("prep suspend ml-", decks_dir) == ["ml-overfitting", "ml-sigmoid-code", "ml-curve"]
    assert complete("prep se", decks_dir) == ["search"]


def test_suspend_checks_ids_against_the_decks_it_is_given(decks_dir: Path, tmp_path: Path) -> None:
    only_ml = tmp_path / "only-ml"
    only_ml.mkdir()
    (only_ml / "basics.md").write_bytes((decks_dir / "ml" / "basics.md").read_bytes())
    refused = run("suspend", "prob-pmf", "--decks", str(only_ml), code=1)
    assert "no card has the id 'prob-pmf'" in refused.output
    assert run("suspend", "ml-overfitting", "--decks", str(only_ml)).output == "Suspended 1 card.\n"


def test_completion_never_offers_a_deck_name_with_control_characters(tmp_path: Path) -> None:
    root = tmp_path / "work" / "decks"
    root.mkdir(parents=True)
    (root / "evil.yaml").write_text('deck: "Evil\\e]0;pwned\\a\\u202e"\ncards:\n  - {id: e1, q: One?, a: A.}\n')
    (root / "fine.yaml").write_text('deck: "Everyday"\ncards:\n  - {id: f1, q: Two?, a: A.}\n')
    # the shell would print the name raw in its list of completions; its folder form is still offered
    assert sorted(complete("prep review --deck E", root)) == ["Everyday", "evil"]


def test_flags_set_in_the_drill_show_in_show_search_and_stats(decks_dir: Path) -> None:
    with Store(paths.database_path()) as store:
        store.set_flag("prob-bayes-rule", 1, NOW)  # red
        store.set_flag("ml-overfitting", 4, NOW)  # blue
    assert "flag: red" in run("show", "prob-bayes-rule").output.splitlines()
    assert "flag:" not in run("show", "ml-curve").output
    assert json.loads(run("show", "ml-overfitting", "--json").output)[0]["flag"] == "blue"
    red = run("search", "--flag", "red").output.splitlines()
    assert red[0].startswith("prob-bayes-rule  Math::Probability [red]") and red[-1] == "1 note matches the red flag."
    assert [hit["id"] for hit in json.loads(run("search", "--flag", "any", "--json").output)] == [
        "prob-bayes-rule", "ml-overfitting"]
    assert run("search", "overfitting", "--flag", "red", code=1).output.endswith(
        "0 notes match 'overfitting' and the red flag.\n")
    assert run("search", code=2).exit_code == 2  # neither TEXT nor --flag: a usage error
    stats = json.loads(run("stats", "--json").output)
    assert stats["total"]["flagged"] == 2
    assert {d["deck"]: d["flagged"] for d in stats["decks"]} == {"Math::Probability": 1, "ML::Basics": 1}
    assert "Flagged: 2 cards" in run("stats").output
