"""A large picture of the face under the cursor, beside a face grid (``z`` shows and hides it).

Half-block tiles are 16 x 16 pixels at the default zoom: enough to see that there is a face, not always
whose. The preview draws the same stored thumbnail as large as the panel allows.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widgets import Static

from photoclust.types import Face

if TYPE_CHECKING:
    from photoclust.tui.app import PhotoclustApp


class FacePreview(Vertical):
    """The picture of one face (its stored thumbnail, scaled to the panel) and a line about it."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.face_id: int | None = None

    @property
    def papp(self) -> PhotoclustApp:
        return cast("PhotoclustApp", self.app)

    def compose(self) -> ComposeResult:
        yield self.papp.image_class(classes="preview-picture")
        yield Static("", classes="preview-caption", markup=False)

    def on_resize(self, event: events.Resize) -> None:
        self._fit()

    def on_show(self) -> None:
        self.call_after_refresh(self._fit)

    def _fit(self) -> None:
        # a square picture (a cell is twice as high as wide) as large as the panel, above two caption lines
        size = self.content_size
        if not size.width or not size.height:
            return
        width = max(2, min(size.width, 2 * (size.height - 2)))
        width -= width % 2
        picture = self.query_one(".preview-picture")
        now = tuple(s.cells if s is not None else None for s in (picture.styles.width, picture.styles.height))
        if now != (width, width // 2):  # set only on a change: each change lays the screen out again
            picture.styles.width, picture.styles.height = width, width // 2

    def show_face(self, face: Face | None, caption: str) -> None:
        self.call_after_refresh(self._fit)  # shown just now: its size is known after the next refresh
        self.query_one(".preview-caption", Static).update(Text(caption))
        self.face_id = face.id if face is not None else None
        if face is None or not self.display:
            self._set(None)
            return
        backend = self.papp.backend
        if backend.has_thumbnail(face.id):
            self._set(backend.cached_thumbnail(face.id))
        else:
            self._set(None)
            self.papp.want_thumbnails([face.id], self._loaded)

    def _loaded(self) -> None:
        if self.face_id is not None:
            self._set(self.papp.backend.cached_thumbnail(self.face_id))

    def _set(self, picture: object) -> None:
        image = self.query_one(".preview-picture")
        if image.image is not picture:  # type: ignore[attr-defined]
            image.image = picture  # type: ignore[attr-defined]
