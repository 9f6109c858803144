"""The safe writer: unique temporary files, planted symlinks, races, failures, a full disk, file modes."""

from __future__ import annotations

import errno
import multiprocessing
import os
import sqlite3
import stat
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from prep import backup, files, paths
from prep.cli import cli
from tests.conftest import NOW, write, query

NO_ID_DECK = "cards:\n  - q: What is a tensor?\n    a: An array with any number of axes.\n"
VICTIM = b"victim: must never change\n"
WRITES = 50


def run(*args: str):
    return CliRunner().invoke(cli, list(args), env={"PREP_NOW": NOW})


def victim(folder: Path, name: str = "victim.txt") -> Path:
    """A file outside the folders prep writes to, that a planted symlink points at."""
    return write(folder / name, VICTIM.decode())


def plant(link: Path, target: Path) -> Path:
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(target)
    return link


def folder(tmp_path: Path) -> Path:
    """An empty folder of its own (tmp_path also holds the isolated home and work folders)."""
    made = tmp_path / "files"
    made.mkdir()
    return made


def leftovers(folder: Path) -> list[str]:
    """Temporary files the writer would have left (its names end in .tmp)."""
    return sorted(p.name for p in folder.rglob("*.tmp"))


# -- the writer itself -----------------------------------------------------------------------
def test_writes_replace_the_file_and_leave_no_temporary(tmp_path: Path) -> None:
    tmp_path = folder(tmp_path)
    path = tmp_path / "a.txt"
    files.write_text(path, "one\n")
    files.write_bytes(path, b"two\n")
    assert path.read_bytes() == b"two\n"
    files.write_text(path, "a\nb\n", newline="\r\n")
    assert path.read_bytes() == b"a\r\nb\r\n"
    with files.replacing(tmp_path / "b.db") as temporary:
        assert temporary.parent == tmp_path and temporary.name.startswith(".b.db.") and temporary.exists()
        db = sqlite3.connect(temporary)
        db.execute("CREATE TABLE t (x)")
        db.commit()
        db.close()
    assert query(tmp_path / "b.db", "SELECT COUNT(*) FROM t") == [(0,)]
    source = write(tmp_path / "src.bin", "x" * (3 * files.CHUNK + 7))
    files.copy_file(source, tmp_path / "copy.bin")
    assert (tmp_path / "copy.bin").read_bytes() == source.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "b.db", "copy.bin", "src.bin"]


def test_exclusive_refuses_an_existing_file_or_link(tmp_path: Path) -> None:
    path = write(tmp_path / "deck.yaml", "mine\n")
    dangling = plant(tmp_path / "dangling.yaml", tmp_path / "nowhere")
    for target in (path, dangling):
        with pytest.raises(FileExistsError) as raised:
            files.write_text(target, "theirs\n", exclusive=True)
        assert raised.value.filename == str(target)
    assert path.read_text() == "mine\n" and not (tmp_path / "nowhere").exists()
    files.write_text(tmp_path / "new.yaml", "new\n", exclusive=True)
    assert (tmp_path / "new.yaml").read_text() == "new\n"
    assert leftovers(tmp_path) == []


def test_a_symlink_at_the_target_is_replaced_not_written_through(tmp_path: Path) -> None:
    kept = victim(tmp_path / "outside")
    link = plant(tmp_path / "data" / "config.yaml", kept)
    files.write_text(link, "new_per_day: 3\n")
    assert kept.read_bytes() == VICTIM
    assert not link.is_symlink() and link.read_text() == "new_per_day: 3\n"


def test_names_are_unique_and_a_name_taken_by_a_link_is_skipped(tmp_path: Path, monkeypatch) -> None:
    kept = victim(tmp_path / "outside")
    tokens = iter(["aaaaaaaaaaaa", "aaaaaaaaaaaa", "bbbbbbbbbbbb"])
    monkeypatch.setattr(files.secrets, "token_hex", lambda n: next(tokens))
    plant(tmp_path / ".x.yaml.aaaaaaaaaaaa.tmp", kept)  # someone guessed the first name
    files.write_text(tmp_path / "x.yaml", "mine\n")
    assert kept.read_bytes() == VICTIM and (tmp_path / "x.yaml").read_text() == "mine\n"
    assert (tmp_path / ".x.yaml.aaaaaaaaaaaa.tmp").is_symlink()


def test_modes_are_kept_and_new_files_get_0644_less_the_umask(tmp_path: Path) -> None:
    private = write(tmp_path / "private.yaml", "x\n")
    private.chmod(0o600)
    shared = write(tmp_path / "shared.yaml", "x\n")
    shared.chmod(0o664)
    files.write_text(private, "y\n")
    files.write_text(shared, "y\n")
    with files.replacing(tmp_path / "private.yaml") as temporary:
        temporary.write_text("z\n")
    assert stat.S_IMODE(private.stat().st_mode) == 0o600 and stat.S_IMODE(shared.stat().st_mode) == 0o664
    old = os.umask(0o022)
    try:
        files.write_text(tmp_path / "new.yaml", "n\n")
        os.umask(0o077)
        files.write_text(tmp_path / "secret.yaml", "s\n")
        with files.replacing(tmp_path / "secret.db") as temporary:
            temporary.write_bytes(b"s")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new.yaml").stat().st_mode) == 0o644  # not mkstemp's 0o600
    assert stat.S_IMODE((tmp_path / "secret.yaml").stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "secret.db").stat().st_mode) == 0o600


def test_check_fix_keeps_a_deck_files_mode(decks_dir: Path) -> None:
    deck = write(decks_dir / "x.yaml", NO_ID_DECK)
    deck.chmod(0o640)
    result = run("check", "--fix")
    assert result.exit_code == 0, result.output
    assert "id: tensor" in deck.read_text() and stat.S_IMODE(deck.stat().st_mode) == 0o640


# -- failures --------------------------------------------------------------------------------
def failing(*_args):
    raise OSError(errno.EIO, os.strerror(errno.EIO))


@pytest.mark.parametrize("broken", ["fsync", "write", "replace"])
def test_a_failure_mid_write_leaves_the_original_and_no_temporary(tmp_path: Path, monkeypatch, broken: str) -> None:
    tmp_path = folder(tmp_path)
    path = write(tmp_path / "deck.yaml", "original\n")
    monkeypatch.setattr(files.os, broken, failing)
    with pytest.raises(OSError) as raised:
        files.write_bytes(path, b"new\n" * 1000)
    monkeypatch.undo()
    assert raised.value.errno == errno.EIO and files.target_of(raised.value) == path
    assert path.read_text() == "original\n" and os.listdir(tmp_path) == ["deck.yaml"]


@pytest.mark.parametrize("interruption", [KeyboardInterrupt, ValueError])
def test_any_exception_inside_replacing_removes_the_temporary(tmp_path: Path, interruption) -> None:
    tmp_path = folder(tmp_path)
    path = write(tmp_path / "prep.apkg", "old package")
    with pytest.raises(interruption):
        with files.replacing(path) as temporary:
            temporary.write_text("half a package")
            raise interruption()
    assert path.read_text() == "old package" and os.listdir(tmp_path) == ["prep.apkg"]


def test_a_write_error_is_one_line_from_the_cli(decks_dir: Path, monkeypatch) -> None:
    deck = write(decks_dir / "x.yaml", NO_ID_DECK)
    monkeypatch.setattr(files.os, "fsync", failing)
    result = run("check", "--fix")
    assert result.exit_code == 1
    assert result.output == "Error: cannot write decks/x.yaml: Input/output error\n"
    assert deck.read_text() == NO_ID_DECK and leftovers(decks_dir) == []


# -- planted symlinks at the old fixed temporary names, and at the targets -------------------------
def test_check_fix_never_follows_a_planted_link(tmp_path: Path, decks_dir: Path) -> None:
    outside = tmp_path / "outside"
    kept, linked = victim(outside), write(outside / "real.yaml", NO_ID_DECK.replace("tensor", "matrix"))
    deck = write(decks_dir / "x.yaml", NO_ID_DECK)
    plant(decks_dir / ".x.yaml.prep-fix", kept)
    plant(decks_dir / "y.yaml", linked)  # a deck file that is itself a link: replaced, not written through
    result = run("check", "--fix")
    assert result.exit_code == 0, result.output
    assert kept.read_bytes() == VICTIM and linked.read_text() == NO_ID_DECK.replace("tensor", "matrix")
    assert "id: tensor" in deck.read_text() and "id: matrix" in (decks_dir / "y.yaml").read_text()
    assert not (decks_dir / "y.yaml").is_symlink() and leftovers(decks_dir) == []


def test_plan_save_never_follows_a_planted_link(tmp_path: Path, decks_dir: Path, isolated: Path) -> None:
    outside = tmp_path / "outside"
    kept, config_text = victim(outside), write(outside / "config.yaml", "new_per_day: 5\n")
    plan_kept = victim(outside, "plan.yaml")
    plant(isolated / ".config.yaml.new", kept)
    plant(isolated / "config.yaml", config_text)
    plant(isolated / "plan.yaml", plan_kept)
    result = run("plan", "--interview", "2026-03-20", "--save")
    assert result.exit_code == 0, result.output
    assert kept.read_bytes() == VICTIM and plan_kept.read_bytes() == VICTIM
    assert config_text.read_text() == "new_per_day: 5\n"
    assert "interview: '2026-03-20'" in (isolated / "plan.yaml").read_text()
    assert "new_per_day" in (isolated / "config.yaml").read_text() and not (isolated / "config.yaml").is_symlink()
    assert leftovers(isolated) == []


def test_export_never_follows_a_planted_link(tmp_path: Path, decks_dir: Path) -> None:
    pytest.importorskip("genanki")
    outside, out = tmp_path / "outside", tmp_path / "out"
    kept, package_kept = victim(outside), victim(outside, "old.apkg")
    for old_name in ("prep.apkg.partial", "prep.apkg.partial.progress", "x.partial"):
        plant(out / old_name, kept)
    plant(out / "x", package_kept)
    for name in ("prep.apkg", "x"):
        result = run("export", "-o", str(out / name), "--with-progress")
        assert result.exit_code == 0, result.output
        assert (out / name).stat().st_size > 1000 and not (out / name).is_symlink()
    assert kept.read_bytes() == VICTIM and package_kept.read_bytes() == VICTIM
    assert leftovers(out) == []


def test_backup_never_follows_a_planted_link(tmp_path: Path) -> None:
    database = tmp_path / "data" / "prep.db"
    database.parent.mkdir()
    query(database, "CREATE TABLE t (x)")
    kept = victim(tmp_path / "outside")
    folder = backup.backups_dir(database)
    plant(folder / "prep-2026-03-02.partial", kept)
    made = backup.daily_backup(database, "2026-03-02", keep=7)
    assert made == folder / "prep-2026-03-02.db" and not made.is_symlink()
    assert query(made, "SELECT COUNT(*) FROM t") == [(0,)]
    # the day's name taken by a link (dangling or not) counts as that day's backup: never written through
    plant(folder / "prep-2026-03-03.db", tmp_path / "outside" / "nowhere.db")
    plant(folder / "prep-2026-03-04.db", kept)
    assert backup.daily_backup(database, "2026-03-03", keep=7) is None
    assert backup.daily_backup(database, "2026-03-04", keep=7) is None
    assert kept.read_bytes() == VICTIM and not (tmp_path / "outside" / "nowhere.db").exists()
    assert leftovers(folder) == []


def test_import_never_follows_a_planted_link_nor_overwrites_media(tmp_path: Path) -> None:
    pytest.importorskip("anki.collection")
    from tests.test_anki_import import build_collection, export_package

    build_collection(tmp_path / "src.anki2")
    package = export_package(tmp_path / "src.anki2", tmp_path / "x.apkg")
    outside, into = tmp_path / "outside", tmp_path / "decks" / "anki"
    kept, other_kept = victim(outside), victim(outside, "other.yaml")
    plant(into / "top" / "sub" / ".leaf.yaml.partial", kept)
    plant(into / "other.yaml", other_kept)
    plant(into / "top" / "sub" / "media" / "pic.png", kept)
    result = CliRunner().invoke(cli, ["import", str(package), "--into", str(into)])
    assert result.exit_code == 0, result.output
    assert kept.read_bytes() == VICTIM and other_kept.read_bytes() == VICTIM
    assert "1 files written, 0 unchanged, 0 media files copied" in result.output
    assert "other.yaml exists with other content; left unchanged" in result.output
    assert "pic.png exists with other content; left unchanged" in result.output
    assert (into / "top" / "sub" / "leaf.yaml").is_file() and leftovers(into) == []

    # a real media file with other bytes is left alone too; identical bytes count as unchanged
    (into / "top" / "sub" / "media" / "pic.png").unlink()
    write(into / "top" / "sub" / "media" / "pic.png", "the user's own picture")
    again = CliRunner().invoke(cli, ["import", str(package), "--into", str(into)])
    assert "0 media files copied" in again.output and "pic.png exists with other content" in again.output
    assert (into / "top" / "sub" / "media" / "pic.png").read_text() == "the user's own picture"


# -- two processes -------------------------------------------------------------------------------
def _writer(path: str, fill: bytes, start) -> None:
    start.wait()
    for _ in range(WRITES):
        files.write_bytes(Path(path), fill * 200_000)


def test_two_processes_writing_one_file_leave_a_whole_file_and_no_temporaries(tmp_path: Path) -> None:
    tmp_path = folder(tmp_path)
    path = tmp_path / "config.yaml"
    files.write_bytes(path, b"0" * 200_000)
    start = multiprocessing.Event()
    workers = [multiprocessing.Process(target=_writer, args=(str(path), fill, start)) for fill in (b"A", b"B")]
    for process in workers:
        process.start()
    start.set()
    seen = set()
    while any(process.is_alive() for process in workers):  # every read sees one whole version
        data = path.read_bytes()
        assert len(data) == 200_000 and len(set(data)) == 1
        seen.add(data[:1])
    for process in workers:
        process.join(60)
        assert process.exitcode == 0
    assert path.read_bytes() in (b"A" * 200_000, b"B" * 200_000)
    assert os.listdir(tmp_path) == ["config.yaml"]
    assert seen  # the reader did run alongside the writers


# -- a full or read-only disk ----------------------------------------------------------------------
@pytest.fixture
def small_disk(tmp_path: Path):
    """A 64 KiB tmpfs of our own (needs root, or is skipped)."""
    folder = tmp_path / "small"
    folder.mkdir()
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(folder)], capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"mount is not permitted here: {mounted.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=True)


def big_deck(folder: Path) -> Path:
    cards = "".join(f"  - q: Question number {n} about tensors?\n    a: Answer {n}.\n" for n in range(400))
    return write(folder / "decks" / "big.yaml", "cards:\n" + cards)


def test_check_fix_on_a_full_disk_fails_cleanly(small_disk: Path) -> None:
    deck = big_deck(small_disk)
    before = deck.read_bytes()
    assert 16_000 < len(before) < 32_000
    with open(small_disk / "filler", "wb", buffering=0) as filler:  # take every block that is left
        try:
            while True:
                filler.write(b"\0" * 4096)
        except OSError as error:
            assert error.errno == errno.ENOSPC
    result = run("check", "--decks", str(small_disk / "decks"), "--fix")
    assert result.exit_code == 1
    assert result.output == f"Error: cannot write {deck}: No space left on device\n"
    assert deck.read_bytes() == before and os.listdir(deck.parent) == ["big.yaml"]


def test_check_fix_on_a_read_only_disk_fails_cleanly(small_disk: Path) -> None:
    deck = big_deck(small_disk)
    before = deck.read_bytes()
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    result = run("check", "--decks", str(small_disk / "decks"), "--fix")
    assert result.exit_code == 1
    assert result.output == f"Error: cannot write {deck}: Read-only file system\n"
    assert deck.read_bytes() == before and os.listdir(deck.parent) == ["big.yaml"]
