"""The ``photoclust`` command line: thin click commands that call :class:`photoclust.library.Library`.

No business logic and no torch here; library errors become one-line ``Error: ...`` messages.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from photoclust import __version__
from photoclust.errors import PhotoclustError

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

    return wrapper  # type: ignore[return-value]


def _library(db: str | None, create: bool = False) -> Any:
    from photoclust.library import Library

    return Library(db, create=create)


class RichProgress:
    """The CLI's implementation of :class:`photoclust.progress.Progress`: a rich bar with rate and ETA."""

    def __init__(self, console: Any) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            SpinnerColumn,
            TextColumn,
            TimeRemainingColumn,
        )

        self.console = console
        self._bar = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]:>6.1f} photos/s"),
            TextColumn("{task.fields[faces]} faces"),
            TimeRemainingColumn(),
            console=console,
            transient=False,
        )
        self._task: Any = None
        self._faces = 0
        self._done = 0
        self._t0 = 0.0

    def start(self, total: int | None, description: str) -> None:
        import time

        self._bar.start()
        self._faces = 0
        self._done = 0
        self._t0 = time.monotonic()
        self._task = self._bar.add_task(description, total=total, rate=0.0, faces=0)

    def advance(self, n: int = 1, faces: int = 0) -> None:
        import time

        self._faces += faces
        self._done += n
        rate = self._done / max(1e-9, time.monotonic() - self._t0)
        self._bar.update(self._task, advance=n, rate=rate, faces=self._faces)

    def message(self, text: str) -> None:
        self._bar.console.print(f"[yellow]skipped[/] {text}", highlight=False, markup=True)

    def finish(self) -> None:
        if self._task is not None:
            self._bar.stop()
            self._task = None


@click.group(invoke_without_command=True)
@click.version_option(__version__, prog_name="photoclust")
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Find the people in your photos, offline.

    Index a folder with 'photoclust scan', group faces into people with 'photoclust cluster',
    then browse and name them with 'photoclust tui'.
    """
    if ctx.invoked_subcommand is None:
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
@click.option("--workers", type=int, default=0, help="Worker processes for decoding and detection (0: one per core).")
@click.option("--batch-size", type=int, default=32, show_default=True, help="Faces embedded and committed per batch.")
@click.option("--no-flip", is_flag=True, help="Do not average each face's embedding with its mirror image.")
@_errors_to_click
def scan(paths: tuple[str, ...], db: str | None, device: str, workers: int, batch_size: int, no_flip: bool) -> None:
    """Index the photos under PATHS: find faces and cache their embeddings.

    Incremental and resumable: unchanged files are skipped, moved files keep their faces,
    and Ctrl-C keeps everything indexed so far.
    """
    from rich.console import Console

    from photoclust.config import ScanSettings

    console = Console(stderr=True)
    settings = ScanSettings(device=device, workers=workers, batch_size=batch_size, flip_average=not no_flip)
    with _library(db, create=True) as lib:
        report = lib.scan(list(paths), settings=settings, progress=RichProgress(console))
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


@cli.command()
@_db_option
@_errors_to_click
def status(db: str | None) -> None:
    """Summarise the library: photos, faces, people, errors."""
    with _library(db) as lib:
        s = lib.status()
    click.echo(f"Database:      {lib.db_path}")
    click.echo(f"Photos:        {s.photos} ({s.files_present} files present, {s.files_missing} missing)")
    click.echo(f"Faces:         {s.faces} ({s.faces_flagged} flagged low quality)")
    click.echo(f"Unreadable:    {s.errors}")
    click.echo(f"Last scan:     {s.last_scan or 'never'}")
    for version, n in sorted(s.model_versions.items()):
        click.echo(f"Model:         {version} ({n} faces)")


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


def _person_id(lib: Any, ref: str) -> int:
    """A person given by id or by (case-insensitive) name."""
    if ref.isdigit():
        return int(ref)
    return int(lib.resolve_person(ref))


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
    click.echo(
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
@_db_option
@_errors_to_click
def name(person_id: int, name: str, db: str | None) -> None:
    """Name (or rename) a person."""
    with _library(db) as lib:
        lib.name(person_id, name)
    click.echo(f"Person {person_id} is now '{name}'.")


@cli.command()
@click.argument("person_ids", nargs=-1, type=int, required=True)
@click.option("--into", "into", type=int, required=True, help="The person that receives the faces.")
@_db_option
@_errors_to_click
def merge(person_ids: tuple[int, ...], into: int, db: str | None) -> None:
    """Merge people into one (e.g. the same person found twice)."""
    with _library(db) as lib:
        lib.merge(list(person_ids), into)
    click.echo(f"Merged {', '.join(map(str, person_ids))} into {into}.")


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
@_errors_to_click
def export(db: str | None, fmt: str, out: str | None) -> None:
    """Export every face: path, box, person id and name, confirmed."""
    import csv
    import io
    import json

    with _library(db) as lib:
        rows = lib.export_rows()
    buf = io.StringIO()
    if fmt == "json":
        json.dump(rows, buf, indent=2, ensure_ascii=False)
        buf.write("\n")
    else:
        fields = ["path", "x1", "y1", "x2", "y2", "person_id", "person_name", "confirmed"]
        w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({**r, "confirmed": int(bool(r["confirmed"]))})
    if out:
        from photoclust.store import atomic_write_text

        atomic_write_text(out, buf.getvalue())
        click.echo(f"Wrote {len(rows)} faces to {out}.", err=True)
    else:
        click.echo(buf.getvalue(), nl=False)


def main() -> None:
    cli()
