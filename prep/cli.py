"""The `prep` command line: a thin click layer that calls the core and turns errors into messages."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from prep import __version__, clock, sanitize
from prep.errors import PrepError


class _Group(click.Group):
    """Turns PrepError from any command into `Error: ...` and exit code 1 (no traceback)."""

    def invoke(self, ctx: click.Context) -> Any:
        import sqlite3

        try:
            return super().invoke(ctx)
        except PrepError as error:
            # messages quote ids, names and paths from files and packages
            raise click.ClickException(sanitize.visible(error, multiline=True)) from None
        except sqlite3.DatabaseError as error:  # from a query outside the store's methods (doctor, stats)
            from prep import paths, store

            raise click.ClickException(sanitize.visible(store.explain(error, paths.database_path()),
                                                        multiline=True)) from None
        except OSError as error:  # disk full, read-only, no permission: one line, nothing half-written
            from prep import files

            target = files.target_of(error)
            where = f"cannot write {target}" if target else str(error.filename or "a file")
            raise click.ClickException(sanitize.visible(f"{where}: {error.strerror or error}")) from None


decks_option = click.option(
    "--decks", "decks_dir", envvar="PREP_DECKS", metavar="DIR",
    help="Decks folder to use instead of ./decks or the bundled decks (env: PREP_DECKS).")
set_option = click.option(
    "--set", "settings", multiple=True, metavar="KEY=VALUE",
    help="Override a setting for this run, e.g. --set new_per_day=50 (see 'prep config').")


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="prep")
def cli() -> None:
    """Spaced-repetition drills for machine-learning interviews.

    Question banks are YAML or Markdown files in a decks folder; prep schedules them with FSRS,
    drills them in the terminal and exports them to Anki.
    """


def _console(wide: bool = True):
    """A rich console; piped output (`wide`) is laid out without a width limit, so no name is cut."""
    from rich.console import Console

    return Console(highlight=False, width=None if sys.stdout.isatty() or not wide else 10_000)


def _loaded_for_completion(ctx: click.Context):
    """The decks as the command being completed would load them, or None (completion never fails)."""
    root = ctx
    while root.parent is not None and "decks_dir" not in root.params:
        root = root.parent
    try:
        with _cache() as cache:
            return _decks(root.params.get("decks_dir"), cache)
    except Exception:  # noqa: BLE001 - a broken decks folder must not break the shell
        return None


def _complete_deck(ctx: click.Context, param: click.Parameter, incomplete: str) -> list:
    loaded = _loaded_for_completion(ctx)
    wanted = incomplete.lower()
    # a name with control or bidi characters would reach the terminal raw in the shell's list (and
    # nobody can type it): it is not offered
    return [name for name in (loaded.deck_choices() if loaded else [])
            if name.lower().startswith(wanted) and not sanitize.UNSAFE.search(name)]


def _complete_card(ctx: click.Context, param: click.Parameter, incomplete: str) -> list:
    loaded = _loaded_for_completion(ctx)
    return [card_id for card_id in (loaded.card_ids if loaded else []) if card_id.startswith(incomplete)]


def _deck_option(help_text: str = "Only this deck and its sub-decks: full name, folder or unique prefixes "
                 "('nlp::align', 'math/probability')."):
    return click.option("--deck", help=help_text, shell_complete=_complete_deck)


def _cache():
    """The one cache (parsed decks, card index, drawn screens, HTML); use it in a `with` block."""
    from prep import paths
    from prep.cache import Cache

    return Cache(paths.cache_dir())


def _decks(decks_dir: str | None, cache):
    """The decks folder in use, loaded: every card's id and deck; texts read when asked for."""
    from prep import decks, paths

    return decks.load(paths.resolve_decks(decks_dir), cache)


def _config(settings: tuple[str, ...]):
    from prep import config, paths

    overrides = {}
    for item in settings:
        if "=" not in item:
            raise PrepError(f"--set expects KEY=VALUE, got '{item}'")
        key, value = item.split("=", 1)
        overrides[key.strip()] = value
    return config.load(paths.config_path(), overrides)


def _problems_warning(collection) -> str:
    count = len(collection.problems)
    return (f"Warning: {count} problem{'s' if count != 1 else ''} in the decks; those cards are left out "
            "(run 'prep check').") if count else ""


def _warn_problems(collection) -> None:
    if collection.problems:
        click.echo(_problems_warning(collection), err=True)


@cli.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True))
@click.option("--fix", is_flag=True, help="Write missing card ids into the files (nothing else changes).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@decks_option
def check(paths: tuple[str, ...], fix: bool, as_json: bool, decks_dir: str | None) -> None:
    """Validate deck files and print each problem as path:line: message.

    PATHS are deck files or folders (default: the whole decks folder). Exits 1 when any problem is found.
    """
    from prep import decks, fix as fixer, paths as where

    root = where.resolve_decks(decks_dir)
    targets = [Path(p) for p in paths] or [root]
    if any(not t.resolve().is_relative_to(root.resolve()) for t in targets):
        first = targets[0]
        root = first if first.is_dir() else first.parent
    with _cache() as cache:
        found = decks.load(root, cache)
        if fix:
            # only files with problems can lack an id; unchanged files come from the cache when loaded again
            with_problems = {found.files[p.file] for p in found.raw_problems}
            files = [f for t in targets for f in decks.find_deck_files(t) if f in with_problems]
            report = fixer.fix_ids(root, files, found.ids_in_use())
            for fixed in report.fixed:
                click.echo(sanitize.visible(f"{where.display_path(fixed.path)}:{fixed.line}: added id '{fixed.id}'"))
            for refused in report.refused:  # its card still lacks an id: a problem, so check exits 1
                click.echo(sanitize.visible(f"{where.display_path(refused.path)}:{refused.line}: could not add an id here; add one by hand"))
            if files:  # reloaded even if nothing was added here: another `check --fix` may have added them
                found = decks.load(root, cache)
    problems, files, card_count = found.problems, found.files, len(found.note_ids)
    if paths:  # report only on the given files, though duplicates are judged against all decks
        wanted = [t.resolve() for t in targets]

        def in_scope(path: str | Path) -> bool:
            resolved = Path(path).resolve()
            return any(resolved == t or resolved.is_relative_to(t) for t in wanted)

        chosen = {n for n, f in enumerate(files) if in_scope(f)}
        problems = [p for p in problems if in_scope(p.path)]
        card_count = sum(1 for n in found.note_files if n in chosen)
        files = sorted(files[n] for n in chosen)
    if as_json:
        _echo_json({"files": len(files), "notes": card_count,
                    "problems": [{"path": p.path, "line": p.line, "message": p.message} for p in problems]})
        sys.exit(1 if problems else 0)
    for problem in problems:
        click.echo(sanitize.visible(problem))
    bad_files = len({p.path for p in problems})
    if problems:
        s = "s" if len(problems) != 1 else ""
        click.echo(f"{len(problems)} problem{s} in {bad_files} of {len(files)} files; "
                   f"{card_count} note{'s are' if card_count != 1 else ' is'} fine.")
        sys.exit(1)
    click.echo(f"{card_count} note{'s' if card_count != 1 else ''} in {len(files)} file{'s' if len(files) != 1 else ''}: "
               "no problems.")


@cli.command()
@_deck_option()
@click.option("--tag", help="Only cards with this tag.")
@click.option("--limit", type=click.IntRange(min=1), help="Stop after this many cards.")
@click.option("--new", "new_per_day", type=click.IntRange(min=0), help="New cards per day (default 20).")
@click.option("--reviews", "reviews_per_day", type=click.IntRange(min=0), help="Reviews per day (default 200).")
@click.option("--retention", type=click.FloatRange(0.7, 0.99), help="Desired retention (default 0.9).")
@click.option("--ahead", type=click.IntRange(min=1), metavar="DAYS",
              help="Review early: the cards due within DAYS days, soonest first (no daily limits).")
@set_option
@decks_option
def review(deck: str | None, tag: str | None, limit: int | None, new_per_day: int | None,
           reviews_per_day: int | None, retention: float | None, ahead: int | None, settings: tuple[str, ...],
           decks_dir: str | None) -> None:
    """Drill the cards due today in the terminal.

    Space/enter shows the answer; 1-4 rate it Again/Hard/Good/Easy (each rating is saved at once);
    u undoes the last rating, skip, bury or suspension, e edits the card in $EDITOR, s skips it until
    tomorrow, b buries it (the same, named as in Anki), ! suspends it, f flags it, i shows its details and
    history, o opens its images, j/k scroll a long answer, q quits.
    """
    config = _config(settings)
    for name, value in (("new_per_day", new_per_day), ("reviews_per_day", reviews_per_day),
                        ("desired_retention", retention)):
        if value is not None:
            setattr(config, name, value)
    queue = None
    if ahead is not None:
        from prep import cram

        def queue(store, card_ids):
            return cram.ahead_ids(store, card_ids, clock.now(), ahead, config.day_starts_at)
    _drill(config, deck, tag, limit, decks_dir, queue, "ahead" if ahead else "review")


@cli.command()
@click.option("--deck", help="Only this deck and its sub-decks.")
@click.option("--tag", help="Only cards with this tag.")
@click.option("--weak", type=click.IntRange(min=1), metavar="N",
              help="Only the N weakest reviewed cards: lowest recall now first, then most lapses.")
@click.option("--limit", type=click.IntRange(min=1), help="Stop after this many cards.")
@set_option
@decks_option
def cram(deck: str | None, tag: str | None, weak: int | None, limit: int | None, settings: tuple[str, ...],
         decks_dir: str | None) -> None:
    """Drill chosen cards now, due or not (the keys are those of 'prep review').

    Each rating is an honest review at the real time, so FSRS schedules the cards correctly after.
    """
    from prep import cram as crammer, scheduler

    config = _config(settings)

    def queue(store, card_ids):
        return crammer.cram_ids(store, card_ids, scheduler.make(config), clock.now(), weak)
    _drill(config, deck, tag, limit, decks_dir, queue, "cram")


def _drill(config, deck: str | None, tag: str | None, limit: int | None, decks_dir: str | None,
           queue=None, mode: str = "review") -> None:
    """Run a drill over the cards in scope: the day's queue, or the cards `queue(store, ids)` picks."""
    from prep import drill, paths, plan as planner, render
    from prep.review import Session
    from prep.store import Store

    if not drill.is_terminal():
        raise PrepError(f"prep {'cram' if mode == 'cram' else 'review'} needs an interactive terminal (stdin/stdout "
                        "are not a TTY). Run it in a terminal; use 'prep stats' in scripts.")
    with _cache() as cache:
        loaded = _decks(decks_dir, cache)
        _warn_problems(loaded)
        card_ids = loaded.ids(deck, tag)
        if not card_ids:
            raise PrepError(f"no cards match{' --deck ' + deck if deck else ''}{' --tag ' + tag if tag else ''}")
        with Store(paths.database_path()) as store:
            chosen = queue(store, card_ids) if queue is not None else None
            session = Session(store, card_ids, loaded.card, config, clock.now, limit,
                              plan=planner.load_saved(paths.data_dir()), queue=chosen, mode=mode)
            if session.next_card() is None and mode == "cram":
                click.echo("No cards to cram." + ("" if chosen else " (--weak picks only cards reviewed before.)"))
                return
            if session.next_card() is None:
                nxt = session.next_due()
                click.echo("Nothing due right now." + (f" Next card due {render.when(nxt, clock.now())}." if nxt else ""))
                return
            _run_drill(session, loaded, cache, config)


def _run_drill(session, loaded, cache, config) -> None:
    """The drill in the terminal, its summary, the day's backup, then the next session's cards drawn ahead."""
    from rich.console import Console

    from prep import backup, drill, images, paths, render, terminal

    console = Console(highlight=False)
    screens = render.Screens(cache)
    with terminal.KeyboardMode(sys.stdin.fileno()) as keyboard, terminal.TerminalSignals(keyboard) as signals:
        warning = _problems_warning(loaded)  # kept on the first card's screen, which clears the terminal
        keys = drill.KeyReader(sys.stdin.fileno(), signals.read_fd)  # resize, Ctrl-Z/fg: redraw
        pictures = images.Pictures(config.images, sys.stdin.fileno(), sys.stdout.fileno(), keys.unread)
        summary = drill.drill(session, console, keys, loaded, screens, f"[yellow]{warning}[/]" if warning else "",
                              pictures)
    console.print()
    console.print(drill.summary_text(summary, clock.now()))
    backup.daily_backup(paths.database_path(), session.day, config.backups_to_keep)
    if summary.interrupted:  # after Ctrl-C, leave at once
        return
    try:
        drill.prepare_next_session(session, console, screens)
        cache.prune()
    except KeyboardInterrupt:  # only speed next time is lost
        pass


@cli.command()
@click.option("--questions", type=click.IntRange(1, 50), help="How many questions (default 5).")
@click.option("--minutes", type=click.IntRange(1, 240), help="Fill this many minutes instead (each part's usual "
              "answer length: breadth 3, math 4, design 10, behavioural 4, coding 15 or the card's target); the mock "
              "stops when they are up.")
@click.option("--part", "parts", multiple=True,
              type=click.Choice(["breadth", "math", "design", "behavioural", "coding"]),
              help="A part of the interview loop; repeat for several (default: every part your decks have).")
@click.option("--deck", help="Only questions from this deck and its sub-decks.")
@click.option("--tag", help="Only questions with this tag.")
@click.option("--history", "show_history", is_flag=True, help="List past mocks: score per part, time per question.")
@set_option
@decks_option
def mock(questions: int | None, minutes: int | None, parts: tuple[str, ...], deck: str | None, tag: str | None,
         show_history: bool, settings: tuple[str, ...], decks_dir: str | None) -> None:
    """A timed mock interview over your weakest material, scored on each card's key points.

    Answer each question aloud (space) or type it in $EDITOR (e); the model answer and its points
    follow; tick the points you made (1-9), enter, then accept the proposed rating (enter) or pick
    one (1-4). A coding question opens its stub in $EDITOR and runs the tests; the tests passed are
    its points. Every answer is logged as a review at the real time, and the mock is saved.
    """
    from prep import drill, mock as mocks, mock_drill, paths, plan as planner, scheduler, terminal
    from prep.review import Session
    from prep.store import Store

    if show_history:
        with Store(paths.database_path()) as store:
            for line in mock_drill.history_lines(mocks.history(store)):
                click.echo(sanitize.visible(line))
        return
    if questions is not None and minutes is not None:
        raise PrepError("give --questions or --minutes, not both")
    if not drill.is_terminal():
        raise PrepError("prep mock needs an interactive terminal (stdin/stdout are not a TTY).")
    config = _config(settings)
    now = clock.now()
    with _cache() as cache:
        loaded = _decks(decks_dir, cache)
        _warn_problems(loaded)
        with Store(paths.database_path()) as store:
            chosen_parts = list(dict.fromkeys(parts)) or mocks.available_parts(loaded, store, deck, tag)
            drawn = mocks.draw(loaded, store, scheduler.make(config), now, chosen_parts,
                               mocks.question_count(chosen_parts, questions, minutes), deck, tag, seed=now.isoformat())
            ids = [q.card.id for q in drawn]
            session = Session(store, ids, loaded.card, config, clock.now, plan=planner.load_saved(paths.data_dir()),
                              queue=ids, mode="mock")
            mock_id = mocks.start(store, now, chosen_parts)
            from rich.console import Console

            console = Console(highlight=False)
            with terminal.KeyboardMode(sys.stdin.fileno()):
                answers = mock_drill.run(mock_drill.Run(session, drawn, mock_id, console,
                                                        mock_drill.TimedKeys(sys.stdin.fileno()), minutes))
            record = mocks.Mock(mock_id, now, chosen_parts, answers)
            console.print()
            for line in mock_drill.summary_lines(answers, mocks.report(store, record), record):
                console.print(sanitize.visible(line), markup=False, highlight=False)


@cli.command()
@click.option("-o", "--output", type=click.Path(dir_okay=False), default="prep.apkg", show_default=True,
              help="Where to write the Anki package.")
@_deck_option()
@click.option("--tag", help="Only cards with this tag.")
@click.option("--with-progress", is_flag=True,
              help="Also carry prep's scheduling and review history (import in Anki with scheduling).")
@set_option
@decks_option
def export(output: str, deck: str | None, tag: str | None, with_progress: bool, settings: tuple[str, ...],
           decks_dir: str | None) -> None:
    """Write the decks as an Anki package (.apkg) that Anki imports and later updates in place."""
    from prep import export as exporter, paths

    with _cache() as cache:
        loaded = _decks(decks_dir, cache)
        _warn_problems(loaded)
        from prep.store import Store

        config = _config(settings) if with_progress else None
        with Store(paths.database_path()) as store:  # also keeps each note's content-change time
            result = exporter.export(loaded, Path(output), clock.now(), deck=deck, tag=tag, store=store,
                                     progress=(store, config) if with_progress else None, cache=cache)
    if not result.notes:
        raise PrepError("no cards to export" + (f" for --deck {deck}" if deck else "") + (f" --tag {tag}" if tag else ""))
    click.echo(f"Wrote {result.path}: {result.notes} notes, {result.cards} cards, {result.media} media "
               f"file{'s' if result.media != 1 else ''}, {result.decks} decks.")


@cli.command()
@_deck_option()
@click.option("--tag", help="Only cards with this tag.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@set_option
@decks_option
def stats(deck: str | None, tag: str | None, as_json: bool, settings: tuple[str, ...], decks_dir: str | None) -> None:
    """Cards by state, due forecast, review calendar, streak, true retention, weakest decks and leeches."""
    from prep import paths, render, stats as figures
    from prep.store import Store

    config = _config(settings)
    with _cache() as cache:
        loaded = _decks(decks_dir, cache)
    with Store(paths.database_path()) as store:
        result = figures.compute(store, loaded.cards_in_scope(deck, tag), clock.now(), config.day_starts_at,
                                 config.leech_threshold)
    if as_json:
        _echo_json(render.stats_json(result))
        return
    console = _console()
    for part in render.stats_view(result, config.leech_threshold):
        console.print(part)
    _warn_problems(loaded)


@cli.command()
@click.argument("card_ids", nargs=-1, shell_complete=_complete_card)
@click.option("--leeches", is_flag=True, help="Suspend every card forgotten leech_threshold times or more.")
@set_option
@decks_option
def suspend(card_ids: tuple[str, ...], leeches: bool, settings: tuple[str, ...], decks_dir: str | None) -> None:
    """Keep cards out of reviews (history is kept) until 'prep unsuspend'.

    Every ID must name a card in the decks (or one with a review history); otherwise nothing changes.
    """
    from prep import paths
    from prep.store import Store

    config = _config(settings)
    with Store(paths.database_path()) as store:
        if card_ids:
            _check_ids(decks_dir, card_ids, set(store.states()))
        chosen = list(card_ids)
        if leeches:
            chosen += list(store.lapses(config.leech_threshold))
        if not chosen:
            raise PrepError("no leeches to suspend" if leeches else "name card ids to suspend, or use --leeches")
        already = set(store.suspended())
        count = store.suspend(chosen, clock.now(), "leech" if leeches and not card_ids else "manual")
    click.echo(f"Suspended {count} card{'s' if count != 1 else ''}"
               + (f" ({len(set(chosen) & already)} already suspended)." if set(chosen) & already else "."))


@cli.command()
@click.argument("card_ids", nargs=-1, required=True, shell_complete=_complete_card)
@decks_option
def unsuspend(card_ids: tuple[str, ...], decks_dir: str | None) -> None:
    """Bring suspended cards back into reviews (each ID must be a card in the decks or a suspended one)."""
    from prep import paths
    from prep.store import Store

    with Store(paths.database_path()) as store:
        suspended = set(store.suspended())
        _check_ids(decks_dir, card_ids, suspended)
        count = store.unsuspend(card_ids)
    not_suspended = len(set(card_ids) - suspended)
    click.echo(f"Unsuspended {count} card{'s' if count != 1 else ''}"
               + (f" ({not_suspended} {'was' if not_suspended == 1 else 'were'} not suspended)." if not_suspended else "."))


def _check_ids(decks_dir: str | None, card_ids: tuple[str, ...], known: set[str]) -> None:
    """Refuse ids that name no card in the decks nor in `known` (the database's), naming them."""
    from prep import finding

    if not set(card_ids) - known:
        return
    with _cache() as cache:
        loaded = _decks(decks_dir, cache)
    unknown = finding.unknown_ids(loaded, list(card_ids), known)
    if unknown:
        raise PrepError(finding.unknown_ids_message(loaded, unknown) + "; nothing was changed")


@cli.command()
@click.option("--dry-run", is_flag=True, help="Report only; never save the fitted parameters.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@set_option
@decks_option
def optimize(dry_run: bool, as_json: bool, settings: tuple[str, ...], decks_dir: str | None) -> None:
    """Fit FSRS parameters to your review log; save them only if neither metric gets worse.

    A fifth of your cards are held out; the log loss and RMSE of the default (and current) parameters
    and of the fitted ones are measured on those cards' reviews. (--decks is accepted and not used:
    the log holds every card.)
    """
    from prep import config as settings_file, optimize as optimizer, paths
    from prep.store import Store

    config = _config(settings)
    with Store(paths.database_path()) as store:
        result = optimizer.optimize(store, config.day_starts_at, config.parameters)
    saved = result.better and not dry_run
    if saved:
        settings_file.save_settings(paths.config_path(), parameters=[round(p, 4) for p in result.parameters])
    if as_json:
        _echo_json({"reviews": result.reviews, "train_items": result.train_items, "test_items": result.test_items,
                    "default": vars(result.default), "current": vars(result.current) if result.current else None,
                    "fitted": vars(result.fitted), "parameters": result.parameters, "improved": result.improved,
                    "worse": result.worse, "saved": saved})
        return
    click.echo(f"Reviews: {result.reviews}; training items: {result.train_items}; held-out items: {result.test_items}")
    rows = [("default", result.default)] + ([("current", result.current)] if result.current else [])
    for name, evaluation in rows + [("fitted", result.fitted)]:
        click.echo(f"  {name:<8} log loss {evaluation.log_loss:.4f}   RMSE {evaluation.rmse:.4f}")
    click.echo(optimizer.verdict(result, saved, dry_run, sanitize.visible(paths.config_path())))


@cli.command()
@click.option("--interview", "interview_day", required=True, metavar="YYYY-MM-DD",
              help="The interview date.")
@click.option("--target", type=float, default=0.9, show_default=True,
              help="Share of cards you want to recall on the day.")
@_deck_option()
@click.option("--tag", help="Only cards with this tag.")
@click.option("--save", "save_plan", is_flag=True, help="Keep the plan: set the daily limits it needs.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@set_option
@decks_option
def plan(interview_day: str, target: float, deck: str | None, tag: str | None, save_plan: bool, as_json: bool,
         settings: tuple[str, ...], decks_dir: str | None) -> None:
    """Predicted recall on your interview date, and the daily work that reaches the target.

    Recall is FSRS retrievability on the day (09:00 local) for every card; unseen cards count as
    not recalled. The workload comes from simulating the schedule up to the interview.
    """
    from datetime import date

    from prep import paths, plan as planner
    from prep.store import Store

    try:
        interview = date.fromisoformat(interview_day)
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD, e.g. 2026-12-15", param_hint="--interview") from None
    config = _config(settings)
    with _cache() as cache:
        cards = _decks(decks_dir, cache).cards_in_scope(deck, tag)
    with Store(paths.database_path()) as store:
        result = planner.make_plan(store, cards, config, clock.now(), interview, target)
    saved = save_plan and result.feasible  # an unachievable plan must not become the daily limits
    if saved:
        planner.save(result, paths.data_dir(), paths.config_path(), config)
    if as_json:
        _echo_json({"interview": result.interview.isoformat(), "days_left": result.days_left,
                    "target": result.target, "predicted_recall_now": result.predicted_now,
                    "predicted_recall_with_plan": result.predicted_with_plan, "on_track": result.on_track,
                    "feasible": result.feasible, "peak_cards_per_day": result.peak_load,
                    "daily_capacity": result.capacity, "days_needed": result.days_needed,
                    "new_cards": result.new_cards, "new_per_day": result.new_per_day,
                    "reviews_per_day": result.reviews_per_day, "peak_reviews_per_day": result.peak_reviews,
                    "decks": [{"deck": d.deck, "cards": d.cards, "unseen": d.unseen, "predicted_recall": d.predicted}
                              for d in result.decks], "saved": saved})
        return
    click.echo(f"Interview {result.interview.isoformat()}: {result.days_left} days left; target {100 * target:.0f}%.")
    click.echo(f"If you stopped now, you would recall about {100 * result.predicted_now:.0f}% of "
               f"{sum(d.cards for d in result.decks)} cards on the day.")
    click.echo("Weakest decks:")
    for readiness in result.decks[:8]:
        click.echo(f"  {100 * readiness.predicted:5.1f}%  {sanitize.visible(readiness.deck)} "
                   f"({readiness.unseen} of {readiness.cards} unseen)")
    click.echo(f"Plan: {result.new_per_day} new cards a day ({result.new_cards} unseen), about "
               f"{result.reviews_per_day:.0f} reviews a day (peak {result.peak_reviews}).")
    for line in planner.verdict(result):
        click.echo(line)
    if saved:
        click.echo(f"Saved: new_per_day={result.new_per_day} in {sanitize.visible(paths.config_path())}; "
                   "'prep review' shows the plan in its header.")
    elif save_plan:
        click.echo("Nothing saved: the plan is not achievable.")


@cli.command("import")
@click.argument("package", type=click.Path(dir_okay=False))
@click.option("--into", type=click.Path(file_okay=False), metavar="DIR",
              help="Folder for the deck files (default: <decks>/<package name>).")
@set_option
@decks_option
def import_package(package: str, into: str | None, settings: tuple[str, ...], decks_dir: str | None) -> None:
    """Turn an Anki package (.apkg or .colpkg) into deck files, with its review history.

    Basic, reversed and cloze notes keep their text (HTML back to Markdown, MathJax back to $...$),
    tags, deck hierarchy and media; other note types are mapped field by field with a warning.
    Running the same import again changes nothing.
    """
    from prep import anki_import, paths, scheduler
    from prep.store import Store

    config = _config(settings)
    if into is None:
        root = paths.resolve_decks(decks_dir)
        if root.resolve() == paths.bundled_decks().resolve():
            raise PrepError("there is no decks folder of yours here to import into: "
                            "pass --into DIR (for example --into decks/anki)")
        target = root / anki_import.slug(Path(package).stem)
    else:
        target = Path(into)
    fsrs_scheduler = scheduler.make(config)
    with Store(paths.database_path()) as store:
        report = anki_import.import_package(  # history from Anki: scheduled the way Anki does
            Path(package), target, store,
            lambda state, card_id, rating, at: scheduler.anki_review(fsrs_scheduler, config, state, card_id, rating, at))
    for warning in report.warnings[:20]:
        click.echo(f"Warning: {sanitize.visible(warning)}", err=True)
    if len(report.warnings) > 20:
        click.echo(f"Warning: and {len(report.warnings) - 20} more", err=True)
    click.echo(f"Imported {report.notes} notes from {sanitize.visible(Path(package).name)} into "
               f"{sanitize.visible(target)}: "
               f"{len(report.files_written)} files written, {report.files_unchanged} unchanged, "
               f"{report.media_copied} media files copied, {report.reviews_added} reviews added on "
               f"{report.cards_with_history} cards.")


@cli.command("sync-anki")
@click.argument("source", type=click.Path(exists=True, dir_okay=False))
@set_option
@decks_option
def sync_anki(source: str, settings: tuple[str, ...], decks_dir: str | None) -> None:
    """Merge reviews done in Anki on prep's cards (a .colpkg, .apkg or collection.anki2).

    Cards are matched by the GUIDs prep's export gives them (cards not in --decks are skipped),
    reviews by their time, so syncing the same file twice adds nothing; the cards' states are
    recomputed from the merged log.
    """
    from prep import anki_import, export as exporter, paths, scheduler
    from prep.store import Store

    config = _config(settings)
    fsrs_scheduler = scheduler.make(config)
    with _cache() as cache:
        known = exporter.anki_cards(_decks(decks_dir, cache).notes)  # only cards in the decks get reviews
    with Store(paths.database_path()) as store:
        added, cards = anki_import.sync_reviews(
            Path(source), store,
            lambda state, card_id, rating, at: scheduler.anki_review(fsrs_scheduler, config, state, card_id, rating, at),
            known)
    click.echo(f"Merged {added} review{'s' if added != 1 else ''} on {cards} card{'s' if cards != 1 else ''} "
               f"from {sanitize.visible(Path(source).name)}.")


def _echo_json(payload: object) -> None:
    import json

    click.echo(json.dumps(payload, indent=2, default=str))


@cli.command()
@click.option("--markdown", "as_markdown", is_flag=True, help="Print Markdown (this is how decks/README.md is made).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@decks_option
def catalog(as_markdown: bool, as_json: bool, decks_dir: str | None) -> None:
    """List the deck files with their note counts by difficulty (a note can give several cards)."""
    from prep import catalog as catalogue

    with _cache() as cache:
        collection = _decks(decks_dir, cache)
        collection.notes  # read every text while the cache is open
    if as_json:
        _echo_json([{"deck": e.deck, "file": e.path, "notes": e.total,
                     **{level: e.counts[level] for level in catalogue.DIFFICULTIES}}
                    for e in catalogue.entries(collection)])
        return
    if as_markdown:
        click.echo(sanitize.text(catalogue.markdown(collection)), nl=False)
        return
    from rich.table import Table

    table = Table(title=f"Question banks in {sanitize.markup(collection.root)}", title_justify="left")
    for column in ("Deck", "File", "Notes", "Easy", "Medium", "Hard"):
        wrap = {"justify": "left", "overflow": "fold"} if column in ("Deck", "File") else {"justify": "right"}
        table.add_column(column, **wrap)
    rows = catalogue.entries(collection)
    for entry in rows:
        table.add_row(sanitize.markup(entry.deck), sanitize.markup(entry.path), str(entry.total),
                      str(entry.counts["easy"]), str(entry.counts["medium"]), str(entry.counts["hard"]))
    table.add_row("Total", "", str(sum(e.total for e in rows)), *(str(sum(e.counts[d] for e in rows))
                  for d in catalogue.DIFFICULTIES), style="bold")
    _console().print(table)
    _warn_problems(collection)


@cli.command()
@click.option("--no-repair", is_flag=True, help="Only report; change nothing.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@set_option
@decks_option
def doctor(no_repair: bool, as_json: bool, settings: tuple[str, ...], decks_dir: str | None) -> None:
    """Check the review database and repair card states from the review log.

    Runs SQLite's integrity check, checks the schema version, replays every card's log through
    FSRS, and compares the results with the stored states. Also takes the day's backup, except with
    --no-repair, which writes nothing. (--decks is accepted and not used.)
    """
    from prep import backup, doctor as checker, paths, scheduler
    from prep.store import Store

    config = _config(settings)
    database = paths.database_path()
    if not database.exists():
        if as_json:
            _echo_json({"database": str(database), "exists": False, "healthy": True})
            return
        click.echo(f"No review database yet at {sanitize.visible(database)}: nothing to check.")
        return
    with Store(database) as store:
        report = checker.examine(store, scheduler.make(config), config, repair=not no_repair)
    made = None if no_repair or report.damaged else backup.daily_backup(  # no backup of a damaged log
        database, clock.review_day(clock.now(), config.day_starts_at), config.backups_to_keep)
    failed = report.integrity != ["ok"] or bool(report.broken_chain) or bool(report.damaged) or (
        no_repair and bool(report.state_mismatch or report.missing_state))
    if as_json:
        _echo_json({**vars(report), "healthy": report.healthy, "database": str(database),
                    "backup": str(made) if made else None})
        sys.exit(1 if failed else 0)
    click.echo(f"Database: {sanitize.visible(database)}")
    click.echo(f"Integrity check: {'; '.join(report.integrity)}")
    click.echo(f"Schema version: {report.schema_version}")
    click.echo(f"Reviews: {report.reviews}; cards with a state: {report.cards}")
    for label, ids in (("state differs from its last logged review", report.state_mismatch),
                       ("reviewed but no stored state", report.missing_state),
                       ("log chain broken (a review does not start where the previous ended)", report.broken_chain),
                       ("state without any logged review", report.state_without_log),
                       ("FSRS replay with the current settings gives a different state", report.replay_differs),
                       ("a logged review with a time or state no review can have (edited or damaged)",
                        report.damaged)):
        if ids:
            shown = ", ".join(map(sanitize.visible, ids[:5])) + (f" and {len(ids) - 5} more" if len(ids) > 5 else "")
            click.echo(f"{len(ids)} card{'s' if len(ids) != 1 else ''}: {label}: {shown}")
    if report.repaired:
        click.echo(f"Repaired {len(report.repaired)} card states from the review log.")
    elif report.state_mismatch or report.missing_state:
        click.echo("Run 'prep doctor' without --no-repair to restore these states from the log.")
    if report.replay_differs:
        click.echo("(Replay differences are expected after changing scheduling settings; the log is kept as is.)")
    if made:
        click.echo(f"Backup written: {sanitize.visible(made)}")
    if report.integrity != ["ok"] or report.damaged:
        click.echo(sanitize.visible(backup.restore_hint(database), multiline=True))
    if failed:
        sys.exit(1)
    click.echo("All good." if report.healthy else "Repaired.")


@cli.command("config")
@set_option
@decks_option
def show_config(settings: tuple[str, ...], decks_dir: str | None) -> None:
    """Show the settings in effect and where the config file, database and decks live."""
    from prep import config, paths

    current = _config(settings)
    click.echo(sanitize.visible(f"# config file: {paths.config_path()}"))  # paths may hold any character
    click.echo(sanitize.visible(f"# database:    {paths.database_path()}"))
    click.echo(sanitize.visible(f"# decks:       {paths.resolve_decks(decks_dir)}"))
    import yaml

    click.echo(yaml.safe_dump(config.as_dict(current), sort_keys=False).rstrip())


@cli.command()
@click.argument("folder", default="decks", type=click.Path(), metavar="[DIR]")
@decks_option
def init(folder: str, decks_dir: str | None) -> None:
    """Copy the bundled decks into DIR (default ./decks) to edit them; later commands use that copy.

    A DIR other than ./decks is saved as decks_folder in the config file. DIR must be new or empty.
    (--decks is accepted and not used: the copy is always of the bundled decks.)
    """
    from prep import owndecks, paths

    copied = owndecks.init(Path(folder), paths.config_path())
    click.echo(sanitize.visible(f"Copied the bundled decks ({copied.files} files) into {copied.target}."))
    if copied.remembered:
        click.echo(f"Saved decks_folder: {sanitize.visible(copied.target.resolve())} in "
                   f"{sanitize.visible(paths.config_path())}; "
                   "every command uses it unless --decks or PREP_DECKS says otherwise.")
    else:
        click.echo("Commands run in this folder use it; edit the files, then run 'prep check'.")


@cli.command("decks")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@decks_option
def list_decks(as_json: bool, decks_dir: str | None) -> None:
    """The deck tree with the cards in each deck and its sub-decks (what --deck accepts)."""
    from prep import finding

    with _cache() as cache:
        loaded = _decks(decks_dir, cache)
    rows = finding.deck_tree(loaded)
    if as_json:
        _echo_json([vars(row) for row in rows])
        return
    labels = ["  " * row.depth + sanitize.visible(row.deck.split("::")[-1]) for row in rows]  # names from files
    width = max(map(len, labels), default=4)
    for label, row in zip(labels, rows):
        click.echo(f"{label:<{width}}  {row.total:>6}")
    click.echo(f"{'Total':<{width}}  {len(loaded.card_ids):>6} cards")
    _warn_problems(loaded)


@cli.command()
@click.argument("card_id", shell_complete=_complete_card)
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@decks_option
def show(card_id: str, as_json: bool, decks_dir: str | None) -> None:
    """One card as the drill shows it, where it is written, and its schedule and review history.

    CARD_ID is a card id (`prob-variance/c1`) or a note id (every card of that note is shown).
    """
    from prep import finding, paths, render
    from prep.store import Store

    with _cache() as cache:
        loaded = _decks(decks_dir, cache)
        found = finding.cards_for(loaded, card_id)
    with Store(paths.database_path()) as store:
        shown = [finding.details_of(card, store) for card in found]
    if as_json:
        _echo_json([finding.details_json(item) for item in shown])
        return
    console = _console(wide=False)
    for item in shown:
        for line in finding.details_lines(item, paths.display_path(item.card.note.path)):
            click.echo(sanitize.visible(line))
        front, back = render.card_sides(item.card)
        console.rule("question", style="dim")
        console.print(render.markdown(front))
        console.rule("answer", style="dim")
        if render.has_no_answer(item.card):
            console.print(render.NO_ANSWER)
        if back.strip():
            console.print(render.markdown(back))
        console.rule(style="dim")
        for line in finding.history_lines(item):
            click.echo(sanitize.visible(line))


@cli.command()
@click.argument("text", required=False, default="")
@_deck_option()
@click.option("--tag", help="Only cards with this tag.")
@click.option("--flag", "flag_colour", type=click.Choice(["any", "red", "orange", "green", "blue"]),
              help="Only cards flagged in the drill (f), with this colour or any.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
@decks_option
def search(text: str, deck: str | None, tag: str | None, flag_colour: str | None, as_json: bool,
           decks_dir: str | None) -> None:
    """Notes whose question, answer, cloze, extra or tags contain TEXT (ignoring case); with --flag, the
    flagged cards (TEXT may then be left out)."""
    from prep import finding

    if not text and flag_colour is None:
        raise click.UsageError("give TEXT to search for, or --flag")
    flagged = None
    if flag_colour is not None:
        from prep import paths
        from prep.review import FLAGS
        from prep.store import Store

        with Store(paths.database_path()) as store:
            flagged = {card_id: flag for card_id, flag in store.flags().items()
                       if flag_colour == "any" or FLAGS.get(flag) == flag_colour}
    with _cache() as cache:
        loaded = _decks(decks_dir, cache)
        found = finding.search(loaded, text, deck, tag, flagged)
    if as_json:
        _echo_json([{"id": f.note.id, "cards": f.card_ids, "deck": f.note.deck, "question": f.first_line,
                     "file": str(f.note.path), "line": f.note.line}
                    | ({"flags": {c: finding.flag_name(flagged[c]) for c in f.card_ids}} if flagged is not None else {})
                    for f in found])
        return
    for item in found:
        marks = (" " + " ".join(f"[{finding.flag_name(flagged[c])}]" for c in item.card_ids)
                 if flagged is not None else "")
        click.echo(sanitize.visible(f"{item.note.id}  {item.note.deck}{marks}  {_one_line(item.first_line)}"))
    wanted = [f"'{text}'"] if text else []
    if flag_colour is not None:
        wanted.append("a flag" if flag_colour == "any" else f"the {flag_colour} flag")
    what = " and ".join(wanted)
    click.echo(sanitize.visible(f"{len(found)} note{' matches' if len(found) == 1 else 's match'} {what}."),
               err=not found)
    if not found:
        sys.exit(1)


def _one_line(text: str, most: int = 100) -> str:
    text = sanitize.text(text).replace("\n", " ")
    return text if len(text) <= most else text[: most - 1] + "…"


@cli.command()
@click.argument("shell", type=click.Choice(["bash", "zsh", "fish"]))
@decks_option
def completion(shell: str, decks_dir: str | None) -> None:
    """Print the shell completion script, e.g. eval "$(prep completion bash)" in ~/.bashrc.

    Completes commands, options, deck names after --deck and card ids after show/suspend/unsuspend
    (from the decks the completed command would use; --decks here is accepted and not used).
    """
    from click.shell_completion import get_completion_class

    script = get_completion_class(shell)(cli, {}, "prep", "_PREP_COMPLETE")  # type: ignore[misc]
    click.echo(script.source())


def main() -> None:
    cli(prog_name="prep")
