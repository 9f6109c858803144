"""Does every interval real Anki chooses lie in the days prep's Anki rules allow? Random review plans.

Answers 50 new cards 14 times each in a real Anki collection (the `anki` library from the test
extras), waiting random amounts (early by up to 90 % of the interval, on time, late) between reviews.
At each answer the test helper `AnkiReviews.answer` computes, with prep's `scheduler.anki_interval`,
the lowest and highest day prep allows for that button, and checks Anki's choice lies between them.
Runs with Anki's fuzz on and off (its test mode, which needs a process of its own), for each seed:

    python scripts/anki_agreement.py [SEED ...]
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(fuzz: bool, seed: int) -> tuple[int, int, list[str]]:
    sys.path.insert(0, str(ROOT))
    from anki.collection import Collection

    from tests.test_anki_import import AnkiReviews

    inside = outside = 0
    examples: list[str] = []
    with tempfile.TemporaryDirectory() as folder:
        col = Collection(str(Path(folder) / "agreement.anki2"))
        try:
            col.set_config("fsrs", True)
            col.load_balancer_enabled = False  # it moves a due inside the fuzz range by the day's load
            reviews = AnkiReviews(col, fuzz)
            rng = random.Random(seed)
            for n in range(50):
                note = col.new_note(col.models.by_name("Basic"))
                note["Front"], note["Back"] = f"q{n}", "a"
                col.add_note(note, 1)
                card_id = note.cards()[0].id
                for _ in range(14):
                    card = col.get_card(card_id)
                    wait = 0
                    if card.queue == 2:  # a review card: early, on time or late
                        wait = rng.choice([-3, -1, 0, 1, 5, -int(card.ivl * 0.3), -int(card.ivl * 0.6),
                                           -int(card.ivl * 0.9)])
                        wait = max(wait, -(card.due - col.sched.today))
                    reviews.wait(card_id, wait)
                    try:
                        reviews.answer(card_id, rng.choice([1, 2, 3, 3, 3, 3, 4, 4]))
                        inside += 1
                    except AssertionError as error:
                        outside += 1
                        examples.append(str(error)[:200])
        finally:
            col.close()
    return inside, outside, examples


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        fuzz, seed = sys.argv[2] == "fuzz", int(sys.argv[3])
        inside, outside, examples = run(fuzz, seed)
        print(f"| {seed} | {'on' if fuzz else 'off'} | {inside} | {outside} |")
        for example in examples[:3]:
            print(f"<!-- {example} -->")
        return
    seeds = [int(seed) for seed in sys.argv[1:]] or [1, 2]
    print("| seed | Anki's fuzz | answers in prep's range | outside |\n|---|---|---:|---:|")
    for seed in seeds:
        for mode in ("fuzz", "nofuzz"):
            env = dict(os.environ, TZ="Asia/Tokyo")  # Anki's test mode moves its clock between 02:00 and 04:00
            if mode == "nofuzz":
                env["ANKI_TEST_MODE"] = "1"
            subprocess.run([sys.executable, __file__, "--child", mode, str(seed)], env=env, check=True)


if __name__ == "__main__":
    main()
