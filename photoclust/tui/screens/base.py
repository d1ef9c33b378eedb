"""What every data screen shares: load in a worker, show on the app thread, reload after changes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import PurePath
from typing import TYPE_CHECKING, ClassVar, TypeVar, cast

from textual import on
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Static
from textual.worker import get_current_worker

from photoclust.errors import PhotoclustError
from photoclust.tui.widgets.grid import FaceGrid, VirtualGrid
from photoclust.types import Face

if TYPE_CHECKING:
    from photoclust.tui.app import PhotoclustApp

R = TypeVar("R")


class DataScreen(Screen[None]):
    """A screen showing library data. ``load`` starts workers; the screen reloads when it is shown
    again after the library changed (an edit, an undo, a finished scan)."""

    def __init__(self) -> None:
        super().__init__()
        self.generation = -1

    @property
    def papp(self) -> PhotoclustApp:
        return cast("PhotoclustApp", self.app)

    def on_mount(self) -> None:
        self.reload()

    def on_screen_resume(self) -> None:
        if self.generation != self.papp.generation:
            self.reload()

    def reload(self) -> None:
        self.generation = self.papp.generation
        self.load()

    def load(self) -> None:
        raise NotImplementedError

    def fetch(
        self,
        read: Callable[[], R],
        show: Callable[[R], None],
        group: str = "load",
        failed: Callable[[PhotoclustError], None] | None = None,
    ) -> None:
        """Run ``read()`` in a thread worker, then ``show(result)`` on the app thread.

        A newer fetch of the same group supersedes an older one (its result is dropped).
        """
        app = self.papp

        def work() -> None:
            try:
                result = read()
            except PhotoclustError as exc:
                app.from_thread(failed or app.show_error, exc)
                return
            if not get_current_worker().is_cancelled:
                app.from_thread(self._deliver, show, result)

        self.run_worker(work, thread=True, exclusive=True, group=group, name=f"{type(self).__name__}.{group}")

    def _deliver(self, show: Callable[[R], None], result: R) -> None:
        if self.is_attached:
            show(result)


def short_path(path: str) -> str:
    """``folder/file.jpg``: enough to recognise a photo, never an absolute or temporary path."""
    if not path:
        return "(file missing)"
    p = PurePath(path)
    return str(PurePath(p.parent.name, p.name)) if p.parent.name else p.name


def short_date(taken_at: str | None) -> str:
    """``2012-12-06 15:46`` from ISO 8601, or a dash."""
    if not taken_at:
        return "no date"
    return taken_at.replace("T", " ")[:16]


def face_line(face: Face | None, selected: int) -> str:
    """The one-line description of the face under the cursor."""
    if face is None:
        return "No faces."
    parts = [short_path(face.path), short_date(face.taken_at), f"face #{face.id}"]
    if face.confirmed:
        parts.append("confirmed")
    if face.flags:
        parts.append("flags: " + ", ".join(face.flags))
    if selected:
        parts.append(f"{selected} selected")
    return " · ".join(parts)


class FaceGridScreen(DataScreen):
    """A data screen built around a grid of faces (a person's, or the unknown ones): the actions that
    work the same on both. Each applies to the selection, or to the face under the cursor."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("z", "preview", "Big picture"),
    ]

    def on_mount(self) -> None:
        from photoclust.tui.widgets.preview import FacePreview

        # (Textual calls DataScreen.on_mount too: each class's handler runs)
        self.query_one(FacePreview).display = self.papp.ui_settings.preview

    def action_preview(self) -> None:
        """Show or hide the large picture of the face under the cursor (remembered for next time)."""
        from photoclust.tui.widgets.preview import FacePreview

        preview = self.query_one(FacePreview)
        preview.display = not preview.display
        self.papp.remember(preview=bool(preview.display))
        self.show_preview()

    def show_preview(self) -> None:
        """Show the face under the cursor in the preview (when it is shown)."""
        from photoclust.tui.widgets.preview import FacePreview

        face = self._grid().current
        caption = f"face #{face.id} · {short_path(face.path)}" if face is not None else ""
        self.query_one(FacePreview).show_face(face, caption)

    def on_screen_resume(self) -> None:
        from photoclust.tui.widgets.preview import FacePreview

        preview = self.query_one(FacePreview)
        if preview.display != self.papp.ui_settings.preview:  # toggled on another screen meanwhile
            preview.display = self.papp.ui_settings.preview
            self.show_preview()

    def _grid(self) -> FaceGrid:
        return self.query_one(FaceGrid)

    def _info(self) -> None:
        grid = self._grid()
        self.query_one("#face-info", Static).update(face_line(grid.current, len(grid.selected)))
        self.show_preview()

    @on(VirtualGrid.Highlighted)
    @on(VirtualGrid.SelectionChanged)
    def _moved(self) -> None:
        self._info()

    @on(VirtualGrid.Activated)
    def _activated(self, event: VirtualGrid.Activated) -> None:
        self.papp.open_photo(event.item.photo_id, at=event.item.video_time)

    def _targets(self) -> list[int]:
        faces = self._grid().targets()
        if not faces:
            self.notify("No face here.", severity="warning")
        return [f.id for f in faces]

    def _done(self, _result: object = None) -> None:
        self._grid().clear_selection()

    def action_back(self) -> None:
        if not self._grid().clear_selection():
            self.dismiss()

    def action_not_face(self) -> None:
        faces = self._targets()
        if faces:
            self.papp.edit(lambda lib: lib.not_a_face(faces), f"{len(faces)} marked as not a face", then=self._done)

    def action_open(self) -> None:
        face = self._grid().current
        if face is not None:
            self.papp.open_file(face.path, at=face.video_time)
