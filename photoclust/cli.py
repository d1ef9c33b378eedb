"""The ``photoclust`` command line: thin click commands that call :class:`photoclust.library.Library`.

No business logic and no torch here; library errors become one-line ``Error: ...`` messages.
"""

from __future__ import annotations

import functools
import sqlite3
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

from photoclust import __version__
from photoclust.errors import PhotoclustError

if TYPE_CHECKING:
    from photoclust.learn.head import TrainingSet
    from photoclust.library import Library
    from photoclust.people.learning import LearnReport
    from photoclust.search import Mode
    from photoclust.types import Person
    from photoclust.xmp import SidecarStyle

F = TypeVar("F", bound=Callable[..., Any])


def _db_option(fn: F) -> F:
    return click.option(
        "--db",
        "db",
        type=click.Path(dir_okay=False),
        envvar="PHOTOCLUST_DB",
        default=None,
        help="Library database file (default: $PHOTOCLUST_DB or the user data dir).",
    )(fn)


def _errors_to_click(fn: F) -> F:
    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except PhotoclustError as exc:
            raise click.ClickException(str(exc)) from exc
        except sqlite3.DatabaseError as exc:  # the file or its disk, met in the middle of a command
            from photoclust.config import default_db_path
            from photoclust.store import sqlite_errors

            if not sqlite_errors.is_environmental(exc):
                raise
            raise click.ClickException(sqlite_errors.describe(exc, kwargs.get("db") or default_db_path())) from exc

    return wrapper  # type: ignore[return-value]


def _library(db: str | None, create: bool = False) -> Library:
    from photoclust.library import Library

    return Library(db, create=create)


class RichProgress:
    """The CLI's implementation of :class:`photoclust.progress.Progress`: a rich bar with rate and ETA.

    A phase with no known total (looking for files) is a transient spinner; a counted phase leaves its
    final bar on screen.
    """

    def __init__(self, console: Any) -> None:
        self.console = console
        self._bar: Any = None
        self._task: Any = None
        self._faces = 0
        self._done = 0
        self._t0 = 0.0

    def start(self, total: int | None, description: str) -> None:
        import time

        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeRemainingColumn,
        )

        self.finish()
        if total is None:
            columns: tuple[Any, ...] = (
                SpinnerColumn(),
                TextColumn("[bold]{task.description}"),
                TextColumn("{task.fields[count]}"),  # "N files" once there is a count
            )
        else:
            columns = (
                SpinnerColumn(),
                TextColumn("[bold]{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TextColumn("{task.fields[rate]:>6.1f} photos/s"),
                TextColumn("{task.fields[faces]} faces"),
                TimeRemainingColumn(),
            )
        self._bar = Progress(*columns, console=self.console, transient=total is None)
        self._bar.start()
        self._faces = 0
        self._done = 0
        self._t0 = time.monotonic()
        self._task = self._bar.add_task(description, total=total, rate=0.0, faces=0, count="")

    def advance(self, n: int = 1, faces: int = 0) -> None:
        import time

        if self._bar is None:
            return
        self._faces += faces
        self._done += n
        rate = self._done / max(1e-9, time.monotonic() - self._t0)
        self._bar.update(self._task, advance=n, rate=rate, faces=self._faces, count=f"{self._done} files")

    def message(self, text: str) -> None:
        self.console.print(f"[yellow]skipped[/] {text}", highlight=False, markup=True)

    def finish(self) -> None:
        if self._bar is not None:
            self._bar.stop()
            self._bar = None
            self._task = None


@click.group(invoke_without_command=True)
@click.version_option(__version__, prog_name="photoclust")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Find the people in your photos, offline.

    Index a folder with 'photoclust scan', group faces into people with 'photoclust cluster',
    then browse and name them with 'photoclust tui' (or just 'photoclust' in a terminal).
    """
    if ctx.invoked_subcommand is None:
        if sys.stdin.isatty() and sys.stdout.isatty():
            ctx.invoke(tui)
        else:
            click.echo(ctx.get_help())


@cli.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@_db_option
@click.option(
    "--device",
    type=click.Choice(["auto", "cpu", "cuda"]),
    default="auto",
    show_default=True,
    help="Where to run the FaceNet embedding: auto uses CUDA when present.",
)
@click.option(
    "--workers", type=int, default=0, help="Worker processes for decoding and detection (0: one per core, at most 4)."
)
@click.option("--batch-size", type=int, default=32, show_default=True, help="Faces embedded and committed per batch.")
@click.option("--no-flip", is_flag=True, help="Do not average each face's embedding with its mirror image.")
@click.option("--no-cluster", is_flag=True, help="Only index: do not group the new faces into people afterwards.")
@_errors_to_click
def scan(
    paths: tuple[str, ...], db: str | None, device: str, workers: int, batch_size: int, no_flip: bool, no_cluster: bool
) -> None:
    """Index the photos under PATHS: find faces and cache their embeddings, then group them into people.

    Incremental and resumable: unchanged files are skipped, moved files keep their faces,
    and Ctrl-C keeps everything indexed so far. The grouping is 'photoclust cluster' (incremental:
    new faces join the people they belong to); --no-cluster leaves it for later.
    """
    from rich.console import Console

    from photoclust.config import ScanSettings

    console = Console(stderr=True)
    settings = ScanSettings(device=device, workers=workers, batch_size=batch_size, flip_average=not no_flip)
    with _library(db, create=True) as lib:
        report = lib.scan(list(paths), settings=settings, progress=RichProgress(console))
        clustered = learned = None
        if not report.interrupted and not no_cluster:
            with console.status("Finding people…"):
                clustered = lib.cluster()
            with console.status("Learning from your names…"):
                learned = lib.learn_if_due()
    parts = [
        f"{report.new} new",
        f"{report.changed} changed",
        f"{report.moved} moved",
        f"{report.unchanged} unchanged",
        f"{report.deleted} deleted",
        f"{report.unreadable} unreadable",
    ]
    click.echo(f"Photos: {', '.join(parts)}. Faces found: {report.faces}. ({report.seconds:.1f} s)")
    if report.unreadable:
        click.echo("See 'photoclust errors' for the unreadable files.")
    if report.interrupted:
        click.echo("Scan interrupted: run the same command again to continue where it stopped.")
        sys.exit(130)
    if clustered is None:
        click.echo("Next: 'photoclust cluster' groups the faces into people.")
        return
    click.echo(_cluster_summary(clustered))
    _echo_learned(learned)
    click.echo(
        "Next: 'photoclust people' lists them, 'photoclust suggest' shows people who may be the same,"
        " 'photoclust tui' shows their faces."
    )


@cli.command()
@_db_option
@_errors_to_click
def tui(db: str | None) -> None:
    """Open the terminal UI: browse, name, merge and split people with their faces on screen."""
    from photoclust.tui.app import run

    run(db)


@cli.command()
@_db_option
@_errors_to_click
def status(db: str | None) -> None:
    """Summarise the library: photos, faces, people, unreadable files, last scan."""
    with _library(db) as lib:
        s = lib.status()
        n_people = len(lib.list_people())
        unknown = lib.unknown_count()
        head = lib.head_status()
    click.echo(f"Database:      {lib.db_path}" + (" (read-only)" if lib.readonly else ""))
    click.echo(f"Photos:        {s.photos} ({s.files_present} files present, {s.files_missing} missing)")
    click.echo(f"Faces:         {s.faces} ({s.faces_flagged} flagged low quality)")
    click.echo(f"People:        {n_people} ({unknown} unknown faces; 'photoclust people' lists them)")
    click.echo(f"Unreadable:    {s.errors}")
    click.echo(f"Learned head:  {_head_line(head)}")
    click.echo(f"Last scan:     {s.last_scan or 'never'}")
    for version, n in sorted(s.model_versions.items()):
        click.echo(f"Model:         {version} ({n} faces)")


@cli.command()
@_db_option
@click.option("--dry-run", is_flag=True, help="Only say what would be removed.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@_errors_to_click
def gc(db: str | None, dry_run: bool, yes: bool) -> None:
    """Forget photos that are gone from disk, with their faces and your decisions about them.

    Until you run this, a deleted photo only leaves the views: if it comes back (or turns up
    moved), its faces and people are still there. Clears the undo history when it removes anything.
    """
    with _library(db) as lib:
        plan = lib.gc(dry_run=True)
        click.echo(
            f"{plan['photos']} photos gone from disk ({plan['faces']} faces), "
            f"{plan['errors']} error records of vanished files."
        )
        if dry_run or not (plan["photos"] or plan["errors"]):
            return
        if not yes:
            click.confirm("Forget them for good (this also clears the undo history)?", abort=True)
        lib.gc()
    click.echo("Done.")


@cli.command()
@click.argument("dest", type=click.Path(dir_okay=False))
@_db_option
@_errors_to_click
def backup(dest: str, db: str | None) -> None:
    """Copy the library database to DEST, consistently, even while a scan or the TUI is running."""
    with _library(db) as lib:
        lib.backup(dest)
    click.echo(f"Backed up {lib.db_path} to {dest}.")


@cli.command()
@_db_option
@_errors_to_click
def check(db: str | None) -> None:
    """Check that the library database is intact; says whether to restore it from a backup.

    Read-only: runs SQLite's integrity check (every page and index) and foreign-key check.
    Exit status 0 when all is well, 1 when something is wrong.
    """
    from photoclust.library import check as check_library

    r = check_library(db)
    if r.ok:
        note = f" ({len(r.pending_migrations)} schema upgrades will be applied on the next write)"
        click.echo(f"ok: {r.path}" + (note if r.pending_migrations else ""))
        return
    for line in r.damage:
        click.echo(f"damaged: {line}")
    for line in r.dangling:
        click.echo(f"inconsistent: {line}")
    if r.restore_needed:
        click.echo(
            f"{r.path} is damaged: restore it from a copy made with 'photoclust backup' "
            "(copy the damaged file aside first; a rescan re-indexes photos, but names and decisions live only here)."
        )
    else:
        click.echo(
            f"{r.path} is readable but {len(r.dangling)} rows refer to missing rows: no restore is needed to keep "
            "using it, but please report this; a copy made with 'photoclust backup' before it happened is consistent."
        )
    sys.exit(1)


@cli.command()
@_db_option
@_errors_to_click
def errors(db: str | None) -> None:
    """List the files that could not be read, with the reason."""
    with _library(db) as lib:
        rows = lib.errors()
    for path, reason in rows:
        click.echo(f"{path}\t{reason}")
    if not rows:
        click.echo("No unreadable files.", err=True)


def _short_path(path: str) -> str:
    """A path relative to the current folder when it is inside it (for tables)."""
    import os

    if path and os.path.isabs(path):
        rel = os.path.relpath(path)
        if not rel.startswith(".."):
            return rel
    return path


@cli.command()
@_db_option
@click.option("--full", is_flag=True, help="Re-cluster every face from scratch (your decisions still hold).")
@_errors_to_click
def cluster(db: str | None, full: bool) -> None:
    """Group the indexed faces into people.

    New faces join the people they clearly belong to; the rest are clustered into new people.
    Names, confirmed faces, merges, splits and rejections are never undone.
    """
    with _library(db) as lib:
        r = lib.cluster(full=full)
        learned = lib.learn_if_due()
    click.echo(_cluster_summary(r))
    _echo_learned(learned)


def _echo_learned(report: LearnReport | None) -> None:
    if report is not None:
        click.echo(f"Learned from your names ({report.training.faces} confirmed faces): head {report.message}.")


@cli.command()
@_db_option
@click.option("--reset", is_flag=True, help="Stop using the learned head (undo brings it back).")
@_errors_to_click
def learn(db: str | None, reset: bool) -> None:
    """Learn from your names: train a head on the faces you confirmed, so that more faces find their person.

    It is tried on your own confirmed faces first (a third of each person's held out in turn) and used
    only when it assigns more of them at equal or better precision; the figures are printed. One
    'photoclust undo' step. Runs by itself after 'cluster' once 100 more faces were confirmed.
    """
    with _library(db) as lib:
        if reset:
            click.echo("The learned head is no longer used." if lib.learn_reset() else "No learned head was in use.")
            return
        r = lib.learn()
    t = r.training
    click.echo(
        f"Learned from {t.faces} confirmed faces of {t.people} named people ({t.weak_faces} unconfirmed faces"
        f" of theirs as weaker examples, {t.negatives} pairs of faces known to be two people), {t.seconds:.1f} s."
    )
    if t.validation is not None:
        v = t.validation
        click.echo(
            f"Held-out check ({v.folds}-fold, {v.faces} of your confirmed faces): faces found"
            f" {v.recall_base:.1%} -> {v.recall_head:.1%}, right {v.precision_base:.1%} -> {v.precision_head:.1%}."
        )
    if r.used:
        click.echo("The head is in use: run 'photoclust cluster' to let unknown faces find their people with it.")
    else:
        click.echo("The head is not used: it would not help on this library yet (your people stay as they are).")


def _head_line(t: TrainingSet | None) -> str:
    if t is None:
        return "none ('photoclust learn' learns from your names)"
    return f"in use, learned from {t.faces} confirmed faces of {t.people} people"


def _cluster_summary(r: Any) -> str:
    return (
        f"People: {r.people} ({r.new_people} new). Faces: {r.assigned} assigned to people, "
        f"{r.unknown} unknown, {r.skipped} left out by the quality gates. ({r.seconds:.1f} s)"
    )


@cli.command()
@_db_option
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--hidden", is_flag=True, help="Include hidden people.")
@_errors_to_click
def people(db: str | None, as_json: bool, hidden: bool) -> None:
    """List the people found: id, name, faces, photos, cover photo."""
    with _library(db) as lib:
        rows = []
        for p in lib.list_people(include_hidden=hidden):
            cover = lib.face(p.cover_face_id).path if p.cover_face_id else ""
            if not as_json:
                cover = _short_path(cover)
            rows.append(
                {"id": p.id, "name": p.name, "faces": p.faces, "photos": p.photos, "cover": cover, "hidden": p.hidden}
            )
        unknown = len(lib.faces(None))
    if as_json:
        import json

        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{len(rows)} people, {unknown} unknown faces")
    for col in ("id", "person", "faces", "photos", "example photo"):
        table.add_column(col, justify="right" if col in ("id", "faces", "photos") else "left")
    for r in rows:
        label = str(r["name"]) if r["name"] else f"Unnamed · {r['faces']} faces"
        if r["hidden"]:
            label += " (hidden)"
        table.add_row(str(r["id"]), label, str(r["faces"]), str(r["photos"]), str(r["cover"]))
    Console().print(table)


@cli.command()
@click.argument("person_id", type=int)
@click.argument("name")
@click.option(
    "--allow-duplicate", is_flag=True, help="Allow a name another person has (two different people of that name)."
)
@_db_option
@_errors_to_click
def name(person_id: int, name: str, allow_duplicate: bool, db: str | None) -> None:
    """Name (or rename) a person.

    A name another person already has is refused, with the merge command that makes them one person.
    """
    with _library(db) as lib:
        lib.name(person_id, name, allow_duplicate=allow_duplicate)
    click.echo(f"Person {person_id} is now '{name}'.")


@cli.command()
@click.argument("person_ids", nargs=-1, type=int, required=True)
@click.option("--into", "into", type=int, required=True, help="The person that receives the faces.")
@_db_option
@_errors_to_click
def merge(person_ids: tuple[int, ...], into: int, db: str | None) -> None:
    """Merge people into one (e.g. the same person found twice)."""
    with _library(db) as lib:
        before = set(lib.aliases(into))
        sources = [_who(lib.person(p)) for p in dict.fromkeys(person_ids) if p != into]
        lib.merge(list(person_ids), into)
        target = lib.person(into)
        kept = [a for a in lib.aliases(into) if a not in before]
    click.echo(f"Merged {_and(sources)} into {_who(target)}.")
    if kept:
        click.echo(
            f"{_and([repr(a) for a in kept])} kept as other name{'s' if len(kept) > 1 else ''}: search finds them."
        )


@cli.command()
@click.option("--limit", type=int, default=20, show_default=True, help="Show at most this many pairs.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_db_option
@_errors_to_click
def suggest(limit: int, as_json: bool, db: str | None) -> None:
    """People who are probably the same person, most likely first.

    Accept one with 'photoclust merge B --into A'; decline it with 'photoclust different A B'.
    """
    with _library(db) as lib:
        pairs = lib.merge_suggestions(limit)
    if as_json:
        import json

        rows = [
            {
                "a": {"id": s.a.id, "name": s.a.name, "faces": s.a.faces},
                "b": {"id": s.b.id, "name": s.b.name, "faces": s.b.faces},
                "distance": round(s.distance, 4),
                "score": round(s.score, 4),
            }
            for s in pairs
        ]
        click.echo(json.dumps(rows, indent=2, ensure_ascii=False))
        return
    if not pairs:
        click.echo("No suggestions: no two people look like one.")
        return

    def label(p: Person) -> str:
        return f"#{p.id} {p.name or 'Unnamed'} ({p.faces} {'face' if p.faces == 1 else 'faces'})"

    for s in pairs:
        click.echo(f"{s.score:4.0%}  {label(s.a)}  =  {label(s.b)}   merge {s.b.id} --into {s.a.id}")


@cli.command()
@click.argument("person_a", type=int)
@click.argument("person_b", type=int)
@_db_option
@_errors_to_click
def different(person_a: int, person_b: int, db: str | None) -> None:
    """Say that two people are not the same person (declines a 'suggest' pair; undoable)."""
    with _library(db) as lib:
        lib.declare_different(person_a, person_b)
    click.echo(f"Persons {person_a} and {person_b} are different people: not suggested again.")


def _faces_word(face_ids: tuple[int, ...]) -> str:
    """'face 7' / 'faces 7, 8 and 9'."""
    ids = [str(i) for i in dict.fromkeys(face_ids)]
    return f"face {ids[0]}" if len(ids) == 1 else f"faces {_and(ids)}"


_FACE_IDS = click.argument("face_ids", nargs=-1, type=int, required=True)


@cli.command()
@_FACE_IDS
@click.option("--name", default=None, help="Name the new person.")
@_db_option
@_errors_to_click
def split(face_ids: tuple[int, ...], name: str | None, db: str | None) -> None:
    """Make a new person of these faces (face ids from 'photoclust person' or 'photoclust unknown').

    The faces become confirmed: clustering keeps them together. Undo with 'photoclust undo'.
    """
    with _library(db) as lib:
        pid = lib.split(list(face_ids), name or None)
        person = lib.person(pid)
    click.echo(f"{_faces_word(face_ids).capitalize()} now form {_who(person)}.")


@cli.command()
@_FACE_IDS
@click.option("--to", "to", type=int, required=True, help="The person who gets the faces.")
@_db_option
@_errors_to_click
def move(face_ids: tuple[int, ...], to: int, db: str | None) -> None:
    """Give these faces to a person (confirmed: clustering never moves them again)."""
    with _library(db) as lib:
        lib.move(list(face_ids), to)
        person = lib.person(to)
    click.echo(f"Moved {_faces_word(face_ids)} to {_who(person)}.")


@cli.command()
@_FACE_IDS
@click.option("--from", "from_", type=int, required=True, help="The person these faces are not.")
@_db_option
@_errors_to_click
def reject(face_ids: tuple[int, ...], from_: int, db: str | None) -> None:
    """ "Not this person": these faces leave the person (if theirs) and are never given or suggested to them again."""
    with _library(db) as lib:
        label = _who(lib.person(from_))
        lib.reject(list(face_ids), from_)
    click.echo(f"{_faces_word(face_ids).capitalize()}: not {label}, now or later.")


@cli.command()
@_FACE_IDS
@_db_option
@_errors_to_click
def confirm(face_ids: tuple[int, ...], db: str | None) -> None:
    """Confirm that these faces are their person (clustering never moves a confirmed face)."""
    with _library(db) as lib:
        unknown = [f for f in dict.fromkeys(face_ids) if lib.face(f).person_id is None]
        lib.confirm(list(face_ids))
    done = [f for f in dict.fromkeys(face_ids) if f not in unknown]
    if done:
        click.echo(f"Confirmed {_faces_word(tuple(done))}.")
    if unknown:
        click.echo(
            f"{_faces_word(tuple(unknown)).capitalize()} belong{'s' if len(unknown) == 1 else ''} to nobody:"
            " give them to someone with 'photoclust move' or 'photoclust split'.",
            err=True,
        )


@cli.command("not-a-face")
@_FACE_IDS
@_db_option
@_errors_to_click
def not_a_face(face_ids: tuple[int, ...], db: str | None) -> None:
    """Mark detections that are not faces (posters, patterns): they leave every view for good."""
    with _library(db) as lib:
        lib.not_a_face(list(face_ids))
    click.echo(f"Marked {_faces_word(face_ids)} as not a face.")


@cli.command()
@click.argument("person_id", type=int)
@click.argument("face_id", type=int)
@_db_option
@_errors_to_click
def cover(person_id: int, face_id: int, db: str | None) -> None:
    """Choose the face that pictures a person (one of their own faces)."""
    with _library(db) as lib:
        lib.set_cover(person_id, face_id)
        person = lib.person(person_id)
    click.echo(f"Face {face_id} is now the cover of {_who(person)}.")


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@_db_option
@_errors_to_click
def unknown(as_json: bool, db: str | None) -> None:
    """The faces that belong to nobody, grouped by similarity, each group with the person it probably is.

    Use the face ids with 'photoclust move', 'split', 'reject' and 'not-a-face'.
    """
    with _library(db) as lib:
        groups = lib.unknown_groups()
    if as_json:
        _echo_json(
            [
                {
                    "faces": [{"id": f.id, "photo_id": f.photo_id, "path": f.path} for f in faces],
                    "suggested": {"id": person.id, "name": person.name} if person else None,
                }
                for faces, person in groups
            ]
        )
        return
    if not groups:
        click.echo("No unknown faces: every face belongs to somebody.")
        return
    for i, (faces, person) in enumerate(groups, start=1):
        ids = " ".join(str(f.id) for f in faces)
        head = f"Group {i}: {_plural(len(faces), 'face')}"
        if person is None:
            click.echo(f"{head}, nobody suggested. Faces: {ids}")
            click.echo(f"  new person: photoclust split {ids} --name NAME")
        else:
            click.echo(f"{head}, probably {_who(person)}. Faces: {ids}")
            click.echo(f"  yes: photoclust move {ids} --to {person.id}")
            click.echo(f"  no:  photoclust reject {ids} --from {person.id}")


@cli.command()
@click.argument("person_id", type=int)
@click.option("--unhide", is_flag=True, help="Show the person again.")
@_db_option
@_errors_to_click
def hide(person_id: int, unhide: bool, db: str | None) -> None:
    """Hide a person from the people list (or show them again with --unhide)."""
    with _library(db) as lib:
        lib.hide(person_id, not unhide)
    click.echo(f"Person {person_id} is {'shown' if unhide else 'hidden'}.")


@cli.command()
@_db_option
@_errors_to_click
def undo(db: str | None) -> None:
    """Undo the last change to people (edits and clustering runs)."""
    with _library(db) as lib:
        entry = lib.undo()
    click.echo(f"Undone: {entry.description}")


@cli.command()
@_db_option
@_errors_to_click
def redo(db: str | None) -> None:
    """Redo the last undone change."""
    with _library(db) as lib:
        entry = lib.redo()
    click.echo(f"Redone: {entry.description}")


@cli.command()
@_db_option
@click.option("--limit", type=int, default=20, show_default=True)
@_errors_to_click
def history(db: str | None, limit: int) -> None:
    """Show the latest changes to people (what undo would undo)."""
    import time

    with _library(db) as lib:
        entries = lib.history(limit)
    for e in entries:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(e.at))
        click.echo(f"{e.id:>5}  {when}  {'(undone) ' if e.undone else ''}{e.description}")


@cli.command()
@_db_option
@click.option("--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False, writable=True), default=None, help="File (default: stdout).")
@click.option(
    "--xmp",
    "xmp_sidecars",
    is_flag=True,
    help="Instead: write the named faces as face regions (MWG) into XMP sidecars next to the photos.",
)
@click.option(
    "--sidecar-style",
    type=click.Choice(["digikam", "lightroom"]),
    default=None,
    help="With --xmp: photo.jpg.xmp (digikam, the default) or photo.xmp (lightroom).",
)
@click.option("--confirmed-only", is_flag=True, help="With --xmp: only faces you confirmed, not clustering's guesses.")
@_errors_to_click
def export(
    db: str | None,
    fmt: str,
    out: str | None,
    xmp_sidecars: bool,
    sidecar_style: SidecarStyle | None,
    confirmed_only: bool,
) -> None:
    """Export every face: path, box, person id and name, confirmed.

    With --xmp, write each photo's named faces into its XMP sidecar instead, where digiKam, Lightroom
    and exiftool read them; photos are never modified and existing sidecars keep their other metadata.
    """
    import csv
    import io
    import json

    if xmp_sidecars:
        if out:
            raise click.UsageError("--out does not go with --xmp: the sidecars are written next to the photos")
        _export_xmp(db, sidecar_style or "digikam", confirmed_only, as_json=fmt == "json")
        return
    if sidecar_style or confirmed_only:
        raise click.UsageError("--sidecar-style and --confirmed-only go with --xmp")
    with _library(db) as lib:
        rows = lib.export_rows()
    buf = io.StringIO()
    if fmt == "json":
        json.dump(rows, buf, indent=2, ensure_ascii=False)
        buf.write("\n")
    else:
        fields = ["path", "x1", "y1", "x2", "y2", "person_id", "person_name", "confirmed", "time"]
        w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({**r, "confirmed": int(bool(r["confirmed"]))})
    if out:
        from photoclust.fileio import atomic_write_text

        atomic_write_text(out, buf.getvalue())
        click.echo(f"Wrote {len(rows)} faces to {out}.", err=True)
    else:
        click.echo(buf.getvalue(), nl=False)


# -- search, XMP, verify / identify / enrol ---------------------------------------------------------


def _and(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} and {items[-1]}"


def _who(person: Any) -> str:
    """'Madonna (person 5)' or 'person 5'."""
    return f"{person.name} (person {person.id})" if person.name else f"person {person.id}"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _echo_json(data: Any) -> None:
    import json

    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def _export_xmp(db: str | None, style: SidecarStyle, confirmed_only: bool, as_json: bool) -> None:
    with _library(db) as lib:
        r = lib.export_xmp(style, confirmed_only=confirmed_only)
    if as_json:
        _echo_json(
            {
                "photos": r.photos,
                "regions": r.regions,
                "written": r.written,
                "unchanged": r.unchanged,
                "sidecars": r.sidecars,
                "skipped": [{"path": p, "reason": why} for p, why in r.skipped],
            }
        )
        return
    for path, why in r.skipped:
        click.echo(f"skipped {path}: {why}", err=True)
    click.echo(
        f"XMP sidecars: {r.written} written, {r.unchanged} already up to date, {len(r.skipped)} skipped "
        f"({r.regions} named face regions in {r.photos} photos)."
    )


@cli.command("search")
@click.argument("names", nargs=-1, required=True)
@click.option("--all", "all_", is_flag=True, help="Photos with all of these people (the default).")
@click.option("--any", "any_", is_flag=True, help="Photos with at least one of them.")
@click.option("--only", "only", is_flag=True, help="Photos with exactly these people and nobody else.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON (photo id and path) instead of paths.")
@_db_option
@_errors_to_click
def search_cmd(names: tuple[str, ...], all_: bool, any_: bool, only: bool, as_json: bool, db: str | None) -> None:
    """Find photos and videos by the people in them: one file path per line (a video: "clip.mp4 @ 0:42").

    With --only, unknown faces that the quality gates flagged (tiny, blurry, turned away) do not count
    as somebody else; any other face does. Example: photoclust search Ann Bob --only | xargs feh
    """
    modes: tuple[tuple[Mode, bool], ...] = (("all", all_), ("any", any_), ("only", only))
    chosen = [m for m, on in modes if on]
    if len(chosen) > 1:
        raise click.UsageError(f"{' and '.join('--' + m for m in chosen)} exclude each other: give one")
    mode: Mode = chosen[0] if chosen else "all"
    with _library(db) as lib:
        rows = lib.search(list(names), mode)
    if as_json:
        _echo_json([{"photo_id": hit.photo_id, "path": hit.path, "time": hit.time} for hit in rows])
        return
    for hit in rows:
        click.echo(hit.where)
    if not rows:
        click.echo("No photo matches.", err=True)


@cli.command("person")
@click.argument("person")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@_db_option
@_errors_to_click
def person_cmd(person: str, as_json: bool, db: str | None) -> None:
    """Show one person (id or name): faces, best first, and photos."""
    with _library(db) as lib:
        pid = lib.resolve_person(person)
        p = lib.person(pid)
        aliases = lib.aliases(pid)
        faces = lib.faces(pid)
        photos = lib.person_photos(pid)
    if as_json:
        _echo_json(
            {
                "id": p.id,
                "name": p.name,
                "aliases": aliases,
                "hidden": p.hidden,
                "cover_face_id": p.cover_face_id,
                "faces": [
                    {
                        "id": f.id,
                        "photo_id": f.photo_id,
                        "path": f.path,
                        "box": [round(v) for v in f.box],
                        "confirmed": f.confirmed,
                        "flags": list(f.flags),
                        "probability": round(f.probability, 4),
                        "taken_at": f.taken_at,
                        "time": f.video_time,
                    }
                    for f in faces
                ],
                "photos": [{"photo_id": h.photo_id, "path": h.path, "time": h.time} for h in photos],
            }
        )
        return
    label = p.name or "Unnamed"
    click.echo(
        f"{label} (person {p.id}): {_plural(len(faces), 'face')} in {_plural(len(photos), 'photo')}"
        + (" (hidden)" if p.hidden else "")
    )
    if aliases:
        click.echo(f"  also known as: {', '.join(aliases)}")
    for f in faces:
        box = ",".join(str(round(v)) for v in f.box)
        state = "confirmed" if f.confirmed else "suggested"
        flags = f"  [{', '.join(f.flags)}]" if f.flags else ""
        click.echo(f"  face {f.id:<6} {state:<9} {f.taken_at or '':<19}  {f.where}  ({box}){flags}")


@cli.command("import-xmp")
@click.argument("paths", nargs=-1, required=True, type=click.Path(exists=True))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@_db_option
@_errors_to_click
def import_xmp_cmd(paths: tuple[str, ...], as_json: bool, db: str | None) -> None:
    """Take face names from XMP sidecars (digiKam, Lightroom...).

    PATHS: sidecars (.xmp), photos (their embedded XMP and their sidecars) or folders. Each named region
    names the detected face it overlaps, as if you had confirmed it; one import is one 'photoclust undo'.
    """
    with _library(db) as lib:
        r = lib.import_xmp(list(paths))
    if as_json:
        _echo_json(
            {
                "packets": r.packets,
                "regions": r.regions,
                "matched": r.matched,
                "confirmed": r.confirmed,
                "unchanged": r.unchanged,
                "created": r.created,
                "unmatched": [{"path": p, "name": n} for p, n in r.unmatched],
                "not_indexed": r.not_indexed,
                "conflicts": [{"path": p, "name": n, "reason": why} for p, n, why in r.conflicts],
                "errors": [{"path": p, "reason": why} for p, why in r.errors],
            }
        )
        if r.errors:
            sys.exit(1)
        return
    for path, why in r.errors:
        click.echo(f"unreadable {path}: {why}", err=True)
    for path in r.not_indexed:
        click.echo(f"not in the library (scan it first): {path}", err=True)
    for path, name in r.unmatched:
        click.echo(f"no detected face for '{name}' in {path}", err=True)
    for path, name, why in r.conflicts:
        click.echo(f"kept your decision, not '{name}' in {path}: {why}", err=True)
    click.echo(
        f"Read {r.packets} XMP packets: {r.regions} named face regions, {r.matched} matched to detected faces, "
        f"{r.regions - r.matched} unmatched. Named {r.confirmed} faces ({r.unchanged} already were)."
    )
    if r.created:
        click.echo(f"New people: {', '.join(r.created)}.")
    if r.operation is not None:
        click.echo("Undo with 'photoclust undo'.")
    if r.errors:
        sys.exit(1)  # some input could not be read: say so to scripts too


def _probe_json(p: Any) -> dict[str, Any]:
    return {"path": p.path, "box": [round(v) for v in p.box], "face_id": p.face_id, "faces_in_photo": p.faces_in_photo}


@cli.command("verify")
@click.argument("photo_a", type=click.Path(exists=True, dir_okay=False))
@click.argument("photo_b", type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@_db_option
@_errors_to_click
def verify_cmd(photo_a: str, photo_b: str, as_json: bool, db: str | None) -> None:
    """Are the (largest) faces of two photos the same person? Exit status 0: same, 1: different.

    Photos already in the library use their stored faces; others are analysed (and not stored).
    """
    import os

    from photoclust.config import default_db_path

    # no library yet: compare the photos without creating one (an in-memory database)
    exists = os.path.exists(db) if db else default_db_path().exists()
    with _library(db if exists else ":memory:", create=not exists) as lib:
        v = lib.verify(photo_a, photo_b)
    if as_json:
        _echo_json(
            {
                "same": v.same,
                "distance": round(v.distance, 4),
                "threshold": v.threshold,
                "a": _probe_json(v.a),
                "b": _probe_json(v.b),
            }
        )
    else:
        _echo_verdict(v)
    if not v.same:
        sys.exit(1)  # like cmp: 0 same, 1 different


def _echo_verdict(v: Any) -> None:
    verdict = "Same person" if v.same else "Different people"
    sign = "<=" if v.same else ">"
    click.echo(f"{verdict}: distance {v.distance:.3f} {sign} threshold {v.threshold:.3f} (cosine distance).")
    for p in (v.a, v.b):
        if p.faces_in_photo > 1:
            click.echo(f"  {p.path}: the largest of {p.faces_in_photo} faces", err=True)


@cli.command("identify")
@click.argument("photo", type=click.Path(exists=True, dir_okay=False))
@click.option("--top", type=click.IntRange(min=1), default=5, show_default=True, help="How many people to list.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@_db_option
@_errors_to_click
def identify_cmd(photo: str, top: int, as_json: bool, db: str | None) -> None:
    """Who is this? The closest named people, or 'unknown'.

    Compares the photo's largest face with each named person's faces.
    """
    with _library(db) as lib:
        ident = lib.identify(photo, top=top)
    best = ident.best
    if as_json:
        _echo_json(
            {
                "person_id": best.person_id if best else None,
                "name": best.name if best else None,
                "threshold": ident.threshold,
                "face": _probe_json(ident.probe),
                "candidates": [
                    {"person_id": c.person_id, "name": c.name, "distance": round(c.distance, 4), "match": c.match}
                    for c in ident.candidates
                ],
            }
        )
        return
    if best is not None:
        click.echo(f"{best.name} (person {best.person_id}): distance {best.distance:.3f} <= {ident.threshold:.3f}")
    elif not ident.candidates:
        click.echo("unknown: nobody is named yet (name people with 'photoclust name' or 'photoclust enrol')")
    else:
        click.echo(f"unknown: nobody within the threshold {ident.threshold:.3f}")
    for c in ident.candidates:
        click.echo(
            f"  {c.distance:.3f}  {c.name} (person {c.person_id}, {_plural(c.faces, 'face')})"
            + ("  match" if c.match else "")
        )


@cli.command("enrol")
@click.argument("name")
@click.argument("photos", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--yes", is_flag=True, help="Also give the matching faces to the person (unconfirmed).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
@_db_option
@_errors_to_click
def enrol_cmd(name: str, photos: tuple[str, ...], yes: bool, as_json: bool, db: str | None) -> None:
    """Make NAME a person from photos of them, and find their faces.

    Each photo gives its largest face. Photos not in the library yet are indexed into it. The library faces that match are listed; with
    --yes they become the person's, unconfirmed, so you can still review them. Undo with 'photoclust undo'.
    """
    with _library(db, create=True) as lib:
        r = lib.enrol(name, list(photos), assign=yes)
    if as_json:
        _echo_json(
            {
                "person_id": r.person_id,
                "name": r.name,
                "created": r.created,
                "enrolled_faces": list(r.enrolled),
                "added_photos": list(r.added),
                "threshold": r.threshold,
                "assigned": r.assigned,
                "matches": [
                    {"face_id": m.face_id, "photo_id": m.photo_id, "path": m.path, "distance": round(m.distance, 4)}
                    for m in r.matches
                ],
            }
        )
        return
    for path in r.added:
        click.echo(f"Indexed into the library: {path}", err=True)
    n = len(r.enrolled)
    verb = "Created" if r.created else "Extended"
    click.echo(f"{verb} '{r.name}' (person {r.person_id}) with {_plural(n, 'face')}.")
    if not r.matches:
        click.echo(f"No other face in the library is within the threshold {r.threshold:.3f}.")
        return
    click.echo(f"{_plural(len(r.matches), 'face')} in the library within the threshold {r.threshold:.3f}:")
    for m in r.matches:
        click.echo(f"  {m.distance:.3f}  face {m.face_id:<6} {m.path}")
    if yes:
        click.echo(f"Gave {r.assigned} of them to '{r.name}', unconfirmed: review them in 'photoclust tui'.")
    else:
        click.echo("Run again with --yes to give them to this person (unconfirmed).")


def main() -> None:
    cli()
