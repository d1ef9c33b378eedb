"""The Photo screen: one photo, downscaled, with its face boxes numbered, and who each face is."""

from __future__ import annotations

from typing import ClassVar

from PIL import Image as PILImage
from PIL import ImageDraw, ImageFont
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Container, Horizontal, Vertical
from textual.widgets import Footer, Header, OptionList, Static
from textual.widgets.option_list import Option

from photoclust.errors import ImageError
from photoclust.tui.backend import PhotoView
from photoclust.tui.screens.base import DataScreen, short_date, short_path
from photoclust.types import Face

MAX_SIDE = 1280  # the photo is decoded at about this size: enough for any terminal picture
NAMED = (80, 220, 100)
UNKNOWN = (255, 170, 40)


def render_photo(
    path: str, faces: list[tuple[Face, str | None]], max_side: int = MAX_SIDE, at: float | None = None
) -> PILImage.Image:
    """The photo (a video: its frame at ``at``, the best frame of a face) downscaled and upright, with the
    numbered face boxes drawn (on a video frame, those of the faces whose best frame it is)."""
    from photoclust import crawl

    try:
        img, k = crawl.display_image(path, max_side, at)
    except ImageError as exc:
        raise ImageError(f"cannot show {short_path(path)}: {exc}") from exc
    draw = ImageDraw.Draw(img)
    line = max(2, round(max(img.size) / 200))
    font = ImageFont.load_default(size=max(12, round(max(img.size) / 30)))
    for n, (face, name) in enumerate(faces, start=1):
        if face.video_time is not None and face.video_time != at:
            continue
        x1, y1, x2, y2 = (v * k for v in face.box)
        colour = NAMED if name else UNKNOWN
        draw.rectangle((x1, y1, x2, y2), outline=colour, width=line)
        label = str(n)
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
        ty = y1 - (bottom - top) - 2 * line if y1 - (bottom - top) - 2 * line > 0 else y2 + line
        draw.rectangle((x1, ty, x1 + right - left + 2 * line, ty + bottom - top + 2 * line), fill=colour)
        draw.text((x1 + line - left, ty + line - top), label, fill=(0, 0, 0), font=font)
    return img


class PhotoScreen(DataScreen):
    """A photo with its faces; Enter on a face opens its person."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back"),
        Binding("o", "open", "Open"),
    ]

    def __init__(self, photo_id: int, at: float | None = None) -> None:
        super().__init__()
        self.photo_id = photo_id
        self.at = at  # a video: the time of the frame to show (a face's best frame)
        self.view: PhotoView | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal():
            with Container(id="photo-box"):
                yield self.papp.image_class(id="photo")
            with Vertical(id="photo-side"):
                yield Static("", id="photo-info", markup=False)
                yield OptionList(id="photo-faces")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Photo"
        self.query_one("#photo-faces", OptionList).focus()
        super().on_mount()

    def load(self) -> None:
        backend = self.papp.backend
        pid = self.photo_id
        self.fetch(lambda: backend.photo(pid), self._show, group="photo")

    def _show(self, view: PhotoView) -> None:
        self.view = view
        self.title = short_path(view.path)
        self.query_one("#photo-info", Static).update(
            f"{short_path(view.path)}\n{short_date(view.taken_at)}\n{len(view.faces)} face(s)"
        )
        faces = self.query_one("#photo-faces", OptionList)
        faces.clear_options()
        faces.add_options(
            [
                Option(f"{n}. {name or 'Unknown'}  (face #{face.id})", id=str(face.id))
                for n, (face, name) in enumerate(view.faces, start=1)
            ]
        )
        if view.faces:
            faces.highlighted = 0
        at = self.at
        if at is None:  # a video opened from a search: the best frame of its first face
            at = next((f.video_time for f, _n in view.faces if f.video_time is not None), None)
        self.fetch(lambda: render_photo(view.path, view.faces, at=at), self._picture, group="picture")

    def _picture(self, img: PILImage.Image) -> None:
        self.query_one("#photo").image = img  # type: ignore[attr-defined]

    @on(OptionList.OptionSelected, "#photo-faces")
    def _face_chosen(self, event: OptionList.OptionSelected) -> None:
        if self.view is None or event.option_index >= len(self.view.faces):
            return
        face, _name = self.view.faces[event.option_index]
        if face.person_id is not None:
            self.papp.open_person(face.person_id)
        else:
            self.papp.action_unknown()

    def action_back(self) -> None:
        self.dismiss()

    def action_open(self) -> None:
        if self.view is not None:
            self.papp.open_file(self.view.path, at=self.at)
