"""The photoclust terminal UI: ``make_app(db_path)`` builds it (for the CLI and the tests), ``run`` runs it.

Screens: People (the start), Person, Unknown faces, Same person?, Photo, Search, Scan, History, Help.
All library work runs in thread workers through :class:`photoclust.tui.backend.Backend`; results
come back to the event loop with ``call_from_thread``. Every edit goes through the library facade,
then every screen showing library data reloads (the visible one at once, the others when shown).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar, get_args

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import ModalScreen, Screen
from textual.widget import Widget

from photoclust.config import ScanSettings, UiSettings, load_ui_settings, save_ui_settings, ui_settings_path
from photoclust.errors import DuplicateName, NothingToUndo, PhotoclustError
from photoclust.library import Library
from photoclust.tui.backend import Backend
from photoclust.tui.screens.base import DataScreen
from photoclust.tui.screens.dialogs import ConfirmScreen, PersonPicker, PromptScreen
from photoclust.tui.screens.help import HelpScreen
from photoclust.tui.screens.history import HistoryScreen
from photoclust.tui.screens.people import PeopleScreen
from photoclust.tui.screens.person import PersonScreen
from photoclust.tui.screens.photo import PhotoScreen
from photoclust.tui.screens.scan import ScanScreen
from photoclust.tui.screens.search import SearchScreen
from photoclust.tui.screens.suggest import SuggestScreen
from photoclust.tui.screens.unknown import UnknownScreen
from photoclust.tui.widgets.grid import TILE_SIZES, VirtualGrid
from photoclust.tui.widgets.progress import ScanProgress
from photoclust.types import Person, ScanReport

R = TypeVar("R")
Renderer = Literal["auto", "halfcell", "unicode", "sixel", "tgp"]
RENDERER_ENV = "PHOTOCLUST_IMAGES"


def image_class(renderer: Renderer = "auto") -> type[Widget]:
    """The textual-image widget class that draws pictures.

    ``auto`` picks Kitty graphics, Sixel or coloured half blocks from what the terminal supports;
    ``halfcell`` (coloured half blocks) and ``unicode`` (grey shades) work everywhere and are
    deterministic, for tests and snapshots. Import this before the app starts: textual-image asks the
    terminal about its abilities at import time, which is impossible once Textual owns the terminal.
    """
    import textual_image.widget as images

    classes: dict[str, type[Widget]] = {
        "auto": images.Image,
        "halfcell": images.HalfcellImage,
        "unicode": images.UnicodeImage,
        "sixel": images.SixelImage,
        "tgp": images.TGPImage,
    }
    if renderer not in classes:
        raise PhotoclustError(f"unknown picture renderer {renderer!r}: use one of {', '.join(get_args(Renderer))}")
    return classes[renderer]


# Video players that start at a given time (the system's default opener cannot be told one).
PLAYERS_WITH_START = (("mpv", "--start={t:.1f}"), ("vlc", "--start-time={t:.1f}"), ("celluloid", "--mpv-start={t:.1f}"))


def viewer_command(path: str, at: float | None = None) -> list[str] | None:
    """How to open ``path``: a video at ``at`` seconds in a player that can start there, else the system's
    opener; None where there is no opener."""
    if at is not None:
        for player, flag in PLAYERS_WITH_START:
            if shutil.which(player):
                return [player, flag.format(t=at), path]
    opener = "open" if sys.platform == "darwin" else "xdg-open"
    return [opener, path] if shutil.which(opener) else None


def open_in_viewer(path: str, at: float | None = None) -> str | None:
    """Open a file with the system's viewer (a video at ``at`` seconds where a player allows it);
    returns a one-line problem, or None when launched."""
    if not path or not os.path.exists(path):
        return f"the photo is not on disk any more: {path}"
    if sys.platform == "win32":
        os.startfile(path)  # type: ignore[attr-defined]  # noqa: S606 (Windows only)
        return None
    command = viewer_command(path, at)
    if command is None:
        return f"no viewer found (xdg-open or open is missing); the file is {path}"
    subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return None


def start_resource_tracker() -> None:
    """Start multiprocessing's resource tracker now, with the real stderr.

    The scan's process pool starts the tracker on first use, passing it ``sys.stderr.fileno()``; under
    Textual that is -1 (Textual captures stderr) and spawning fails with "bad value(s) in fds_to_keep".
    """
    from multiprocessing import resource_tracker

    saved = sys.stderr
    try:
        sys.stderr = sys.__stderr__
        resource_tracker.ensure_running()
    finally:
        sys.stderr = saved


class PhotoclustApp(App[None]):
    """The terminal UI over one photo library."""

    CSS_PATH = "photoclust.tcss"
    TITLE = "photoclust"
    ENABLE_COMMAND_PALETTE = False

    BINDINGS: ClassVar[list[BindingType]] = [
        # The footer shows Help and Undo everywhere; the People screen shows the others too.
        Binding("question_mark,f1", "help", "Help"),
        Binding("ctrl+z", "undo", "Undo"),
        Binding("ctrl+y", "redo", "Redo", show=False),
        Binding("ctrl+l", "history", "History", show=False),
        Binding("ctrl+u", "unknown", "Unknown faces", show=False),
        Binding("ctrl+g", "suggest", "Same person?", show=False),
        Binding("ctrl+f", "search", "Search", show=False),
        Binding("ctrl+s", "scan", "Scan", show=False),
        Binding("ctrl+t", "learn", "Learn from my names", show=False),
        Binding("plus,equals_sign", "zoom(1)", "Bigger pictures", show=False),
        Binding("minus", "zoom(-1)", "Smaller pictures", show=False),
        Binding("ctrl+q", "quit", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        library: Library,
        *,
        images: type[Widget],
        scan_settings: ScanSettings | None = None,
        ui_settings: UiSettings | None = None,
        settings_path: Path | None = None,
    ) -> None:
        super().__init__()
        self.backend = Backend(library)
        self.ui_settings = ui_settings or UiSettings()
        self.settings_path = settings_path  # None: the settings are not saved
        self.image_class = images
        self.scan_settings = scan_settings or ScanSettings()
        self.generation = 0  # bumped after every change to the library
        self.scanning = False
        self.last_scan: ScanReport | None = None
        self._stop_scan = threading.Event()
        self._progress: ScanProgress | None = None
        self._thumb_pending: set[int] = set()
        self._picture_listeners: list[Callable[[], None]] = []
        self.sub_title = self._title_line()

    def _title_line(self) -> str:
        lib = self.backend.library
        return lib.db_path.name + (" (read-only)" if lib.readonly else "")

    def get_default_screen(self) -> Screen[Any]:
        return PeopleScreen()

    def on_mount(self) -> None:
        self.install_screen(ScanScreen(), "scan")
        self._refresh_title()
        self.run_worker(self.backend.open_reader, thread=True, group="thumbnails", name="open thumbnail reader")

    def on_unmount(self) -> None:
        self._stop_scan.set()

    # -- threads --------------------------------------------------------------------------------
    def from_thread(self, fn: Callable[..., Any], *args: Any) -> None:
        """``call_from_thread`` that does nothing once the app has stopped."""
        try:
            self.call_from_thread(fn, *args)
        except RuntimeError:
            if self.is_running:
                raise

    def show_error(self, exc: PhotoclustError) -> None:
        if isinstance(exc, NothingToUndo):
            self.notify(str(exc).capitalize() + ".", severity="warning")
        else:
            self.notify(str(exc), title="Error", severity="error", timeout=8)

    # -- thumbnails -----------------------------------------------------------------------------
    def want_thumbnails(self, face_ids: Sequence[int], ready: Callable[[], None]) -> None:
        """Load these thumbnails in a worker; ``ready`` runs (on the app thread) once they are in."""
        if ready not in self._picture_listeners:
            self._picture_listeners.append(ready)
        todo = [i for i in face_ids if i not in self._thumb_pending]
        if todo:
            self._thumb_pending.update(todo)
            self._load_thumbnails(todo)

    @work(thread=True, group="thumbnails")
    def _load_thumbnails(self, face_ids: list[int]) -> None:
        self.backend.load_thumbnails(face_ids)
        self.from_thread(self._thumbnails_loaded, face_ids)

    def _thumbnails_loaded(self, face_ids: list[int]) -> None:
        self._thumb_pending.difference_update(face_ids)
        listeners = list(self._picture_listeners)
        if not self._thumb_pending:
            self._picture_listeners.clear()
        for ready in listeners:
            owner = getattr(ready, "__self__", None)
            if not isinstance(owner, Widget) or owner.is_attached:
                ready()

    # -- edits ----------------------------------------------------------------------------------
    def edit(
        self,
        change: Callable[[Library], R],
        message: str | Callable[[R], str] | None = None,
        then: Callable[[R], None] | None = None,
        failed: Callable[[PhotoclustError], None] | None = None,
    ) -> None:
        """Apply ``change(library)`` in a worker, then tell the user and refresh every view.

        A refused edit is shown as an error, or handed to ``failed`` (on the app thread).
        """
        self._edit(change, message, then, failed)

    @work(thread=True, group="edits")
    def _edit(self, change: Callable[[Library], Any], message: Any, then: Any, failed: Any = None) -> None:
        try:
            result = self.backend.call(change)
        except PhotoclustError as exc:
            self.from_thread(failed or self.show_error, exc)
            return
        self.from_thread(self._edited, result, message, then)

    def _edited(self, result: Any, message: Any, then: Any) -> None:
        text = message(result) if callable(message) else message
        if text:
            self.notify(text, timeout=4)
        if then is not None:
            then(result)
        self.library_changed()

    def library_changed(self) -> None:
        self.generation += 1
        screen = self.screen
        if isinstance(screen, DataScreen):
            screen.reload()

    # -- flows shared by several screens ----------------------------------------------------------
    def ask_name(self, person: Person, merged: Callable[[int], None] | None = None) -> None:
        """Name a person; a name somebody else has offers to merge into them (``merged(target)`` then)."""

        def named(name: str | None) -> None:
            if name:
                self.edit(lambda lib: lib.name(person.id, name), f"Named: {name}", failed=duplicate)

        def duplicate(exc: PhotoclustError) -> None:
            if not isinstance(exc, DuplicateName):
                self.show_error(exc)
                return
            target, name = exc.existing, exc.existing_name

            def answered(yes: bool | None) -> None:
                if not yes:
                    self.notify(f"Not renamed: {person.label} and {name} stay two people.")
                    return
                self.edit(
                    lambda lib: lib.merge([person.id], into=target),
                    f"Merged {person.label} into {name}",
                    then=(lambda _r: merged(target)) if merged else None,
                )

            self.push_screen(
                ConfirmScreen(
                    f"{name} already exists — merge {person.label} into {name}?",
                    "y / Enter: merge (one person) · n / Escape: keep them apart, not renamed",
                ),
                answered,
            )

        title = f"Rename {person.name}" if person.name else f"Name this person ({person.faces} faces)"
        self.push_screen(PromptScreen(title, person.name or "", placeholder="a name"), named)

    def ask_merge(self, person: Person, then: Callable[[int], None] | None = None) -> None:
        def chosen(target: int | str | None) -> None:
            if not isinstance(target, int):
                return
            self.edit(
                lambda lib: (lib.merge([person.id], into=target), lib.person(target))[1],
                lambda into: f"Merged {person.label} into {into.name or f'Unnamed #{into.id}'}",
                then=(lambda _r: then(target)) if then else None,
            )

        self.push_screen(PersonPicker(f"Merge {person.label} into…", exclude=[person.id]), chosen)

    def toggle_hidden(self, person: Person) -> None:
        hide = not person.hidden
        text = f"Hidden: {person.label} (F7 on People shows hidden people)" if hide else f"Unhidden: {person.label}"
        self.edit(lambda lib: lib.hide(person.id, hide), text)

    def ask_split(self, face_ids: list[int], then: Callable[[Any], None] | None = None) -> None:
        def named(name: str | None) -> None:
            if name is None:
                return
            self.edit(
                lambda lib: lib.split(face_ids, name or None),
                lambda pid: f"{_faces(len(face_ids))} now form {name or f'a new person (#{pid})'}",
                then=then,
            )

        self.push_screen(
            PromptScreen(
                f"New person from {len(face_ids)} face(s): name (optional, Enter to skip)",
                placeholder="a name, or nothing",
                allow_empty=True,
            ),
            named,
        )

    def ask_move(self, face_ids: list[int], exclude: Sequence[int], then: Callable[[Any], None] | None = None) -> None:
        def chosen(target: int | str | None) -> None:
            if isinstance(target, str):  # "new person 'X'": typed a name nobody has
                self.edit(
                    lambda lib: lib.split(face_ids, target),
                    f"{_faces(len(face_ids))} now form {target}",
                    then=then,
                )
            elif target is not None:
                self.edit(
                    lambda lib: (lib.move(face_ids, target), lib.person(target))[1],
                    lambda to: f"Moved {_faces(len(face_ids))} to {to.name or f'Unnamed #{to.id}'}",
                    then=then,
                )

        picker = PersonPicker(f"Move {len(face_ids)} face(s) to… (or type a new name)", exclude=exclude, offer_new=True)
        self.push_screen(picker, chosen)

    def open_person(self, person_id: int) -> None:
        """Show a person; when their screen is open further down (Person → Photo → Enter on them),
        go back to it rather than stacking a second copy."""
        for screen in reversed(self.screen_stack):
            if isinstance(screen, PersonScreen) and screen.person_id == person_id:
                while self.screen is not screen:
                    self.pop_screen()
                return
        self.push_screen(PersonScreen(person_id))

    def open_photo(self, photo_id: int, at: float | None = None) -> None:
        self.push_screen(PhotoScreen(photo_id, at))

    def open_file(self, path: str, at: float | None = None) -> None:
        problem = open_in_viewer(path, at)
        if problem:
            self.notify(problem, severity="warning")

    # -- what the UI remembers ------------------------------------------------------------------
    @property
    def tile_size(self) -> int | None:
        """The zoom level of the picture grids the user chose (None: each grid fits two rows)."""
        return self.ui_settings.tile_size

    def remember(self, **changes: Any) -> None:
        """Change the UI settings and save them for the next run (a failure to save only warns)."""
        self.ui_settings = replace(self.ui_settings, **changes)
        if self.settings_path is None:
            return
        try:
            save_ui_settings(self.ui_settings, self.settings_path)
        except OSError as exc:
            self.notify(f"Cannot save the settings in {self.settings_path}: {exc.strerror or exc}", severity="warning")

    async def action_zoom(self, step: int) -> None:
        grids = list(self.screen.query(VirtualGrid))
        if not grids:
            return
        current = grids[0].level
        level = max(0, min(current + step, len(TILE_SIZES) - 1))
        if level == current:
            self.notify("Largest pictures already." if step > 0 else "Smallest pictures already.")
            return
        self.remember(tile_size=level)
        for screen in self.screen_stack:
            for grid in screen.query(VirtualGrid):
                await grid.relayout()

    # -- scanning -------------------------------------------------------------------------------
    def start_scan(self, paths: list[str], progress: ScanProgress) -> None:
        if self.scanning:
            self.notify("A scan is running already (ctrl+x on the Scan screen cancels it).", severity="warning")
            return
        self.scanning = True
        self._stop_scan.clear()
        progress.reset()
        start_resource_tracker()
        self._progress = progress
        self.screen.refresh_bindings()  # ctrl+x cancels now
        self._scan(paths, progress)

    def cancel_scan(self) -> None:
        if self.scanning:
            self._stop_scan.set()
            self.notify("Stopping after the current batch…")
        else:
            self.notify("No scan is running.", severity="warning")

    @work(thread=True, group="scan")
    def _scan(self, paths: list[str], progress: ScanProgress) -> None:
        # The scan writes through its own connection, so the app's reads and edits never wait on it.
        try:
            with Library(self.backend.library.db_path, readonly=self.backend.library.readonly) as lib:
                report = lib.scan(
                    paths, settings=self.scan_settings, progress=progress, should_stop=self._stop_scan.is_set
                )
                if not report.interrupted:
                    progress.start(None, "Finding people")
                    lib.cluster()
                    progress.finish()
        except PhotoclustError as exc:
            self.from_thread(self._scan_ended, None, exc)
            return
        self.from_thread(self._scan_ended, report, None)

    def _scan_ended(self, report: ScanReport | None, error: PhotoclustError | None) -> None:
        self.scanning = False
        self.sub_title = self._title_line()
        self.screen.refresh_bindings()  # ctrl+x (cancel) goes from the footer
        if error is not None:
            self.show_error(error)
            if self._progress is not None and self._progress.is_attached:
                self._progress.failed(str(error))
        if report is not None:
            self.last_scan = report
            state = "Scan interrupted" if report.interrupted else "Scan finished"
            summary = (
                f"{state}: {report.new} new, {report.changed} changed, {report.unchanged} unchanged photos,"
                f" {report.faces} faces, {report.unreadable} unreadable ({report.seconds:.0f} s)"
            )
            self.notify(summary, timeout=8)
            if self._progress is not None and self._progress.is_attached:
                self._progress.done(summary)
        self.library_changed()

    def on_scan_progress_updated(self, message: ScanProgress.Updated) -> None:
        if self.scanning:
            self.sub_title = f"{self._title_line()} · {message.line}"

    # -- global actions -------------------------------------------------------------------------
    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        # Dialogs are answered first: library-wide keys do nothing behind them.
        if isinstance(self.screen, ModalScreen) and action in {
            "undo",
            "redo",
            "history",
            "unknown",
            "suggest",
            "search",
            "scan",
            "zoom",
        }:
            return False
        return True

    def _show(self, kind: type[Screen[Any]], make: Callable[[], Screen[Any] | str]) -> None:
        if isinstance(self.screen, kind):
            return
        for screen in self.screen_stack:
            if isinstance(screen, kind):
                # already open further down: go back to it rather than stacking a copy
                while not isinstance(self.screen, kind):
                    self.pop_screen()
                return
        self.push_screen(make())

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_undo(self) -> None:
        self.edit(lambda lib: lib.undo(), lambda h: f"Undone: {h.description}")

    def action_redo(self) -> None:
        self.edit(lambda lib: lib.redo(), lambda h: f"Redone: {h.description}")

    def action_history(self) -> None:
        self._show(HistoryScreen, HistoryScreen)

    def action_learn(self) -> None:
        """Train the head on the user's decisions (a worker: seconds of CPU), then say what it gave."""
        self.notify("Learning from your names…")
        self.edit(lambda lib: lib.learn(), lambda r: f"Learned head {r.message}", then=lambda _r: self._refresh_title())

    def _refresh_title(self) -> None:
        self.run_worker(self._title_with_head, thread=True, group="title", exclusive=True)

    def _title_with_head(self) -> None:
        head = self.backend.call(lambda lib: lib.head_status())
        line = self._title_line() + (f" · learned from {head.faces} faces" if head is not None else "")
        self.from_thread(setattr, self, "sub_title", line)

    def action_unknown(self) -> None:
        self._show(UnknownScreen, UnknownScreen)

    def action_suggest(self) -> None:
        self._show(SuggestScreen, SuggestScreen)

    def action_search(self) -> None:
        self._show(SearchScreen, SearchScreen)

    def action_scan(self) -> None:
        self._show(ScanScreen, lambda: "scan")


def _faces(n: int) -> str:
    return f"{n} face{'' if n == 1 else 's'}"


def make_app(
    db_path: str | os.PathLike[str] | None = None,
    *,
    renderer: Renderer = "auto",
    scan_settings: ScanSettings | None = None,
    readonly: bool = False,
) -> PhotoclustApp:
    """The app over the library at ``db_path`` (created when missing; None: the default library).

    ``readonly`` opens it read-only (as happens anyway when the user may not write it): browsing works,
    each edit says that the library is read-only.
    """
    images = image_class(renderer)
    settings = ui_settings_path()
    return PhotoclustApp(
        Library(db_path, readonly=readonly),
        images=images,
        scan_settings=scan_settings,
        ui_settings=load_ui_settings(settings),
        settings_path=settings,
    )


def run(db_path: str | os.PathLike[str] | None = None, renderer: Renderer | None = None) -> None:
    """Run the terminal UI until the user quits (ctrl+q). ``$PHOTOCLUST_IMAGES`` picks the renderer."""
    chosen = renderer or os.environ.get(RENDERER_ENV, "auto")
    app = make_app(db_path, renderer=chosen)  # type: ignore[arg-type]
    try:
        app.run()
    finally:
        app.backend.close()
