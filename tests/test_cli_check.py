"""`prep check` and `prep check --fix` through click's CliRunner."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from prep.cli import cli
from tests.conftest import write


def run(*args: str):
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def test_clean_decks_pass(decks_dir: Path) -> None:
    result = run("check")
    assert result.exit_code == 0
    assert result.output == "6 notes in 2 files: no problems.\n"


def test_problems_are_listed_then_summarised_with_exit_1(decks_dir: Path) -> None:
    write(decks_dir / "bad.yaml", "cards:\n  - id: a\n    qestion: What?\n    a: This.\n  - id: b\n    q: Q\n")
    result = run("check")
    assert result.exit_code == 1
    assert result.output == (
        "decks/bad.yaml:3: unknown field 'qestion' (did you mean 'q'?); allowed: id, q, a, cloze, extra, tags, reverse, points, guid, stub, solution, tests, hints, time\n"
        "decks/bad.yaml:5: missing or empty answer (a)\n"
        "2 problems in 1 of 3 files; 6 notes are fine.\n"
    )


def test_check_one_path_and_decks_option(tmp_path: Path) -> None:
    other = tmp_path / "elsewhere"
    write(other / "one.md", "<!-- id: x -->\nQ: Why?\nA: Because.\n")
    assert run("check", "--decks", str(other)).output == "1 note in 1 file: no problems.\n"
    assert run("check", str(other / "one.md")).output == "1 note in 1 file: no problems.\n"


def test_missing_decks_folder_is_a_clear_error() -> None:
    result = CliRunner().invoke(cli, ["check", "--decks", "nowhere"])
    assert result.exit_code == 1
    assert result.output == "Error: decks folder 'nowhere' does not exist\n"


def test_fix_adds_ids_and_changes_nothing_else(tmp_path: Path, decks_dir: Path) -> None:
    yaml_text = (
        "# keep this comment\n"
        "tags: [x]   # and this one\n"
        "cards:\n"
        "  - q: 'What is the kernel trick?'\n"
        "    a: \"Computing inner products in feature space implicitly.\"\n"
        "  - {q: What is a margin?, a: The gap.}\n"
        "  - id:\n"
        "    q: What is a support vector?\n"
        "    a: A point on the margin.\n"
        "  - id: svm-kept\n"
        "    q: Kept?\n"
        "    a: Yes.\n"
    )
    md_text = "# Title\n\nQ: What is a kernel?\nA: A similarity.\n\n---\n\n<!-- tags: [easy] -->\nQ: Second question?\nA: Yes.\n"
    write(decks_dir / "svm.yaml", yaml_text)
    write(decks_dir / "kern.md", md_text)
    result = run("check", "--fix")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[-1] == "12 notes in 4 files: no problems."
    fixed_yaml = (decks_dir / "svm.yaml").read_text()
    assert fixed_yaml == (
        "# keep this comment\n"
        "tags: [x]   # and this one\n"
        "cards:\n"
        "  - id: kernel-trick\n"
        "    q: 'What is the kernel trick?'\n"
        "    a: \"Computing inner products in feature space implicitly.\"\n"
        "  - {id: margin, q: What is a margin?, a: The gap.}\n"
        "  - id: support-vector\n"
        "    q: What is a support vector?\n"
        "    a: A point on the margin.\n"
        "  - id: svm-kept\n"
        "    q: Kept?\n"
        "    a: Yes.\n"
    )
    assert (decks_dir / "kern.md").read_text() == (
        "# Title\n\n<!-- id: kernel -->\nQ: What is a kernel?\nA: A similarity.\n\n---\n\n"
        "<!-- id: second-question, tags: [easy] -->\nQ: Second question?\nA: Yes.\n"
    )
    again = run("check", "--fix")  # idempotent: nothing more to add
    assert again.output == "12 notes in 4 files: no problems.\n"


def test_check_json(decks_dir: Path) -> None:
    import json

    write(decks_dir / "bad.yaml", "cards:\n  - id: a\n    q: Q\n")
    result = CliRunner().invoke(cli, ["check", "--json"])
    assert result.exit_code == 1
    assert json.loads(result.output) == {"files": 3, "notes": 6, "problems": [
        {"path": "decks/bad.yaml", "line": 2, "message": "missing or empty answer (a)"}]}


def test_catalog_json(decks_dir: Path) -> None:
    import json

    data = json.loads(run("catalog", "--json").output)
    assert data[0] == {"deck": "Math::Probability", "file": "math/probability.yaml", "notes": 3,
                       "easy": 1, "medium": 1, "hard": 0}


def test_fix_never_reuses_an_id_written_on_a_card_with_problems(decks_dir: Path) -> None:
    write(decks_dir / "broken.yaml", "cards:\n  - id: kernel\n    q: Broken card without an answer\n")
    write(decks_dir / "new.md", "Q: What is a kernel?\nA: A similarity.\n")
    result = run("check", "--fix")
    assert "decks/new.md:1: added id 'kernel-2'" in result.output


def test_math_commands_anki_would_run_are_problems_at_their_line(decks_dir: Path) -> None:
    write(decks_dir / "evil.md", "<!-- id: e1 -->\nQ: Click $\\href{javascript:alert(1)}{here}$\nA: Fine $\\alpha$.\n\n"
          "<!-- id: e2 -->\nQ: Display\nA: $$\na \\\\\n\\style {color:red}{b}\n$$\n")
    result = run("check")
    assert result.exit_code == 1
    assert result.output == (
        "decks/evil.md:2: math command \\href is not allowed (Anki would run it)\n"
        "decks/evil.md:9: math command \\style is not allowed (Anki would run it)\n"
        "2 problems in 1 of 3 files; 6 notes are fine.\n"
    )


def test_a_field_or_file_over_the_size_limit_is_a_problem_at_its_line(decks_dir: Path) -> None:
    write(decks_dir / "big.yaml", "cards:\n  - id: big\n    q: Big?\n    a: |\n      " + "x" * 100_001 + "\n")
    write(decks_dir / "fits.md", "<!-- id: fits -->\nQ: Fits?\nA: " + "é" * 49_999 + "\n")  # 99,998 bytes of UTF-8
    write(decks_dir / "huge.md", "<!-- id: huge -->\nQ: Huge?\nA: " + "y\n" * 1_000_000)
    result = run("check")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert any(line.endswith("big.yaml:5: 'a' is 100,001 bytes, over the limit of 100,000 bytes a field may hold")
               for line in lines), result.output
    assert any(line.endswith("huge.md:1: deck file is 2,000,030 bytes, over the limit of 2,000,000 bytes: "
                             "split it into several files") for line in lines), result.output
    assert not any("fits.md" in line for line in lines)


def test_fix_on_odd_yaml_adds_ids_only_where_the_file_stays_the_same(tmp_path: Path) -> None:
    root = tmp_path / "decks"
    anchored = write(root / "anchor.yaml", "cards:\n  - &first\n    q: Anchored?\n    a: Yes.\n")
    cr_only = root / "cr.yaml"
    cr_only.write_bytes(b"cards:\r  - q: Old Mac?\r    a: Yes.\r")
    odd = {"mixed.yaml": b"cards:\r\n  - q: Mixed?\r    a: Yes.\r\n",  # CRLF and a lone CR
           "sep.yaml": "cards:\n  - q: \"Line\u2028sep?\"\n    a: Yes.\n  - q: Two?\n    a: B.\n".encode()}
    for name, data in odd.items():
        (root / name).write_bytes(data)
    result = run("check", "--fix", "--decks", str(root))  # an IndexError here before, and a broken anchor.yaml
    assert anchored.read_text() == "cards:\n  - &first\n    id: anchored\n    q: Anchored?\n    a: Yes.\n"
    assert cr_only.read_bytes() == b"cards:\r  - id: old-mac\r    q: Old Mac?\r    a: Yes.\r"
    for name, data in odd.items():  # where the parser's lines are not the text's, nothing is written
        assert (root / name).read_bytes() == data
        assert f"{name}:1: could not add an id here; add one by hand" in result.output
    assert run("check", str(anchored), str(cr_only), "--decks", str(root)).exit_code == 0


def test_fix_reports_the_file_as_it_is_after_another_fix_got_there_first(tmp_path: Path, monkeypatch) -> None:
    from prep import fix

    path = write(tmp_path / "decks" / "a.yaml", "cards:\n  - q: First?\n    a: One.\n")
    real = fix.fix_ids

    def other_process_first(root, files, taken):  # a second `prep check --fix` writes between load and fix
        path.write_text("cards:\n  - id: first\n    q: First?\n    a: One.\n")
        return real(root, files, taken)

    monkeypatch.setattr(fix, "fix_ids", other_process_first)
    result = CliRunner().invoke(cli, ["check", "--fix", "--decks", str(tmp_path / "decks")])
    assert result.exit_code == 0 and result.output == "1 note in 1 file: no problems.\n", result.output


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs /proc/self/mem")
def test_fix_goes_on_past_a_file_that_cannot_be_read(tmp_path: Path) -> None:
    mem = Path("/proc/self/mem")  # a regular file whose reads fail (EIO), even for root
    root = tmp_path / "decks"
    fine = write(root / "b.yaml", "cards:\n  - q: First?\n    a: One.\n")
    os.symlink(mem, root / "a.yaml")
    result = run("check", "--fix", "--decks", str(root))
    assert "added id 'first'" in result.output and "a.yaml:1: cannot read file" in result.output
    assert "Error" not in result.output and "id: first" in fine.read_text()
