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


def main() -> None:
    cli()
