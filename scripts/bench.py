#!/usr/bin/env python3
"""Benchmark prep as whole processes on synthetic collections; prints a Markdown table.

    python scripts/bench.py                  # 1k, 10k and 50k cards, 1M reviews, 5 runs each
    python scripts/bench.py --sizes 1000 --reviews 100000 --runs 3

Each command runs as its own process (median wall time of --runs runs, peak RSS from wait4).
`prep review` is timed from spawn to the first card on screen, through a pseudo-terminal.
Floors, measured in the same run: `python -c pass` and a bare process importing just the
libraries the command needs.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import pty
import random
import select
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

PYTHON = sys.executable
NOW = datetime(2026, 11, 22, 10, 0, tzinfo=timezone.utc)
TOPICS = ["linear-algebra", "probability", "statistics", "optimization", "trees", "kernels", "nlp", "vision",
          "systems", "rl", "career", "sql", "graphs", "dp", "losses", "attention"]


def make_decks(root: Path, cards: int) -> list[str]:
    """`cards` notes over many files (about 50 per file), half YAML, half Markdown, with code and math."""
    rng = random.Random(cards)
    ids: list[str] = []
    per_file = 50
    for start in range(0, cards, per_file):
        topic = TOPICS[(start // per_file) % len(TOPICS)]
        folder = root / topic / f"part-{start // (per_file * len(TOPICS)):03d}"
        folder.mkdir(parents=True, exist_ok=True)
        count = min(per_file, cards - start)
        numbers = range(start, start + count)
        if (start // per_file) % 2:
            lines = [f"tags: [{topic}]", "cards:"]
            for n in numbers:
                ids.append(f"c{n}")
                lines += [f"  - id: c{n}", f"    q: What is property {n} of the ${topic[0]}_{{{n}}}$ operator?",
                          "    a: |", f"      It equals $\\frac{{{n}}}{{{n + 1}}}$ because the sum telescopes.",
                          f"      Step two uses $\\sum_{{i=1}}^{{{n}}} i = {n * (n + 1) // 2}$.",
                          f"    tags: [{rng.choice(['easy', 'medium', 'hard'])}]"]
            (folder / f"deck-{start}.yaml").write_text("\n".join(lines) + "\n")
        else:
            parts = ["---", f"tags: [{topic}]", "---", f"# {topic} {start}", ""]
            for n in numbers:
                ids.append(f"c{n}")
                parts += [f"<!-- id: c{n}, tags: [{rng.choice(['easy', 'medium', 'hard'])}] -->",
                          f"Q: What does snippet {n} print?", "", "```python",
                          f"print(sum(range({n % 97})))", "```", "",
                          f"A: `{sum(range(n % 97))}`, the sum $\\sum_{{i<{n % 97}}} i$.", "", "---", ""]
            (folder / f"deck-{start}.md").write_text("\n".join(parts))
    return ids


def make_history(home: Path, ids: list[str], reviews: int) -> None:
    """A review log of `reviews` rows over two years, with matching card states, written directly."""
    home.mkdir(parents=True, exist_ok=True)
    subprocess.run([PYTHON, "-m", "prep", "config"], env=env_for(home, None), check=True, capture_output=True)
    subprocess.run([PYTHON, "-c", "import prep.store as s, pathlib; s.Store(pathlib.Path(r'%s')).close()"
                    % (home / "prep.db")], check=True)
    db = sqlite3.connect(home / "prep.db")
    rng = random.Random(7)
    reviewed = ids[: max(1, len(ids) * 3 // 4)]
    start = NOW - timedelta(days=730)
    span = 730 * 86400 * 1000
    rows = []
    for i in range(reviews):
        card = reviewed[i % len(reviewed)]
        at = int(start.timestamp() * 1000) + span * i // max(reviews, 1)
        state = {"state": 2, "step": None, "stability": 10.0, "difficulty": 5.0,
                 "due": datetime.fromtimestamp(at / 1000 + 864000, timezone.utc).isoformat(),
                 "last_review": datetime.fromtimestamp(at / 1000, timezone.utc).isoformat()}
        rows.append((card, rng.choice((1, 3, 3, 3, 4)), at, 8000, json.dumps(state), json.dumps(state), 2))
        if len(rows) == 50000:
            db.executemany("INSERT INTO reviews (card_id, rating, reviewed_at, duration_ms, state_before, "
                           "state_after, kind_before) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            rows.clear()
    if rows:
        db.executemany("INSERT INTO reviews (card_id, rating, reviewed_at, duration_ms, state_before, state_after, "
                       "kind_before) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
    now_ms = int(NOW.timestamp() * 1000)
    db.executemany("INSERT OR REPLACE INTO cards (id, state, step, stability, difficulty, due, last_review) "
                   "VALUES (?, 2, NULL, 10.0, 5.0, ?, ?)",
                   [(card, now_ms + rng.randint(-5, 30) * 86400000, now_ms - 86400000) for card in reviewed])
    db.commit()
    db.close()


def env_for(home: Path, decks: Path | None) -> dict[str, str]:
    env = dict(os.environ, PREP_HOME=str(home), PREP_CACHE=str(home / "cache"), PREP_NOW=NOW.isoformat(),
               TERM="xterm", COLUMNS="100")
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # users have bytecode caches; measure as they run
    if decks is not None:
        env["PREP_DECKS"] = str(decks)
    return env


def run_process(args: list[str], env: dict[str, str], cwd: Path) -> tuple[float, int]:
    """Wall seconds and peak RSS (KB) of one process run to completion."""
    started = time.perf_counter()
    process = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    return elapsed, usage.ru_maxrss


def forget_screens(cache_file: Path) -> None:
    """Empty the drawn-screen table of the cache (the rest stays warm)."""
    import sqlite3
    from contextlib import closing

    if cache_file.exists():
        with closing(sqlite3.connect(cache_file)) as db, db:
            db.execute("DELETE FROM screens")


def first_card(env: dict[str, str], cwd: Path, fresh_screen: bool = False) -> tuple[float, int]:
    """Seconds from spawning `prep review` in a pseudo-terminal to its first card, and peak RSS.

    `fresh_screen`: forget drawn cards first, as for a card never shown (or prepared) before.
    """
    if fresh_screen:
        forget_screens(Path(env["PREP_CACHE"]) / "cache.db")
    started = time.perf_counter()
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(cwd)
        os.execve(PYTHON, [PYTHON, "-m", "prep", "review"], env)
    seen = b""
    elapsed = float("nan")
    deadline = started + 120
    while time.perf_counter() < deadline:
        ready, _, _ = select.select([fd], [], [], 1)
        if not ready:
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:
            break
        seen += chunk
        if b"show answer" in seen or b"Nothing due" in seen:
            elapsed = time.perf_counter() - started
            break
    try:
        os.write(fd, b"q")
    except OSError:
        pass
    try:
        while os.read(fd, 65536):
            pass
    except OSError:
        pass
    _, _, usage = os.wait4(pid, 0)
    os.close(fd)
    return elapsed, usage.ru_maxrss


def median_of(runs: int, measure) -> tuple[float, int]:
    results = [measure() for _ in range(runs)]
    return statistics.median(r[0] for r in results), max(r[1] for r in results)


FLOOR_IMPORTS = {
    "help": "import click",
    "review": "import click, sqlite3, fsrs, rich.console, rich.markdown, pylatexenc.latex2text",
    "review's first card, drawn before": "import click, sqlite3, rich.console, yaml",
    "check": "import click, yaml",
    "export": "import click, yaml, genanki, markdown, pymdownx.superfences, pymdownx.highlight, nh3",
    "stats": "import click, sqlite3, fsrs, rich.console, rich.table",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1000,10000,50000")
    parser.add_argument("--reviews", type=int, default=1_000_000, help="review-log rows for the largest size")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--output", type=Path, help="also write the table to this Markdown file")
    options = parser.parse_args()
    sizes = [int(s) for s in options.sizes.split(",")]
    work = Path(tempfile.mkdtemp(prefix="prep-bench-"))
    rows: list[tuple[str, str, float, int]] = []
    try:
        floor_env = env_for(work / "floor", None)
        rows.append(("python -c pass", "-", *median_of(options.runs, lambda: run_process(
            [PYTHON, "-c", "pass"], floor_env, work))))
        for name, imports in FLOOR_IMPORTS.items():
            rows.append((f"floor: imports for {name}", "-", *median_of(options.runs, lambda: run_process(
                [PYTHON, "-c", imports], floor_env, work))))
        rows.append(("prep --help", "-", *median_of(options.runs, lambda: run_process(
            [PYTHON, "-m", "prep", "--help"], floor_env, work))))
        for size in sizes:
            decks = work / f"decks-{size}"
            home = work / f"home-{size}"
            ids = make_decks(decks, size)
            reviews = options.reviews if size == max(sizes) else min(options.reviews, size * 20)
            make_history(home, ids, reviews)
            env = env_for(home, decks)
            label = f"{size:,} cards, {reviews:,} reviews"
            runs = options.runs if size <= 10000 else max(3, options.runs // 2)
            cold = run_process([PYTHON, "-m", "prep", "check"], env, work)  # first run fills the cache
            rows.append(("prep check (cold)", label, *cold))
            rows.append(("prep check (warm)", label, *median_of(runs, lambda: run_process(
                [PYTHON, "-m", "prep", "check"], env, work))))
            rows.append(("prep review: first card (warm)", label, *median_of(runs, lambda: first_card(env, work))))
            rows.append(("prep review: first card (warm), never drawn before", label,
                         *median_of(runs, lambda: first_card(env, work, fresh_screen=True))))
            rows.append(("prep stats", label, *median_of(runs, lambda: run_process(
                [PYTHON, "-m", "prep", "stats"], env, work))))
            out = work / "out.apkg"
            rows.append(("prep export (cold)", label, *run_process(  # no rendered fields cached yet
                [PYTHON, "-m", "prep", "export", "-o", str(out)], env, work)))
            rows.append(("prep export (warm)", label, *median_of(max(1, runs // 2), lambda: run_process(
                [PYTHON, "-m", "prep", "export", "-o", str(out)], env, work))))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    table = ["| command | collection | median time | peak memory |", "|---|---|---:|---:|"]
    for command, label, seconds, rss in rows:
        table.append(f"| {command} | {label} | {seconds * 1000:,.0f} ms | {rss / 1024:,.0f} MB |")
    machine = (f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
               f"{time.strftime('%Y-%m-%d')}")
    text = f"Machine: {machine}\n\n" + "\n".join(table) + "\n"
    print(text)
    if options.output:
        write_between_markers(options.output, text)


START, END = "<!-- bench:start -->", "<!-- bench:end -->"


def write_between_markers(path: Path, table: str) -> None:
    """Replace the text between the bench markers (the rest of the page is prose); else write the table."""
    old = path.read_text() if path.exists() else ""
    if START in old and END in old:
        head, rest = old.split(START, 1)
        path.write_text(f"{head}{START}\n{table}{END}{rest.split(END, 1)[1]}")
    else:
        path.write_text(table)


if __name__ == "__main__":
    main()
