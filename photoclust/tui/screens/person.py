"""The Person screen: every face of one person, with the edits that fix who is who."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal
from textual.widgets import Footer, Header, Static

from photoclust.errors import NotFound, PhotoclustError
from photoclust.tui.screens.base import FaceGridScreen
from photoclust.tui.widgets.grid import FaceGrid
from photoclust.tui.widgets.preview import FacePreview
from photoclust.types import Face, Person


class PersonScreen(FaceGridScreen):
    """The faces of one person. Edits apply to the selected faces, or to the face under the cursor."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "Back", show=False),
        Binding("n,f2", "name", "Name"),
        Binding("m,f4", "merge", "Merge"),
        Binding("s", "split", "Split"),
        Binding("v", "move", "Move"),
        Binding("r", "remove", "Not this person"),
        Binding("c", "confirm", "Confirm"),
        Binding("p", "cover", "Cover"),
        Binding("x", "not_face", "Not a face"),
        Binding("h,f8", "hide", "Hide"),
        Binding("o", "open", "Open"),
    ]

    def __init__(self, person_id: int) -> None:
        super().__init__()
        self.person_id = person_id
        self.person: Person | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="person-title", markup=False)
        yield Static("", id="face-info", markup=False)
        with Horizontal(id="person-main"):
            yield FaceGrid(id="faces")
            yield FacePreview(id="preview")
        yield Footer()

    def on_mount(self) -> None:
        self.title = "Person"
        self.query_one(FaceGrid).focus()
        super().on_mount()

    # -- data -----------------------------------------------------------------------------------
    def load(self) -> None:
        backend = self.papp.backend
        pid = self.person_id

        def read() -> tuple[Person, list[Face]]:
            return backend.call(lambda lib: (lib.person(pid), lib.faces(pid)))

        self.fetch(read, self._show, group="person", failed=self._failed)

    def _failed(self, exc: PhotoclustError) -> None:
        if isinstance(exc, NotFound):  # merged away, or an undo removed it
            self.notify(f"Person {self.person_id} no longer exists.", severity="warning")
            if self.is_current:
                self.dismiss()
            return
        self.papp.show_error(exc)

    def _show(self, data: tuple[Person, list[Face]]) -> None:
        person, faces = data
        self.person = person
        self.title = person.name or f"Unnamed #{person.id}"
        grid = self.query_one(FaceGrid)
        grid.cover_face_id = person.cover_face_id
        grid.set_items(faces)
        hidden = " · hidden (h to unhide)" if person.hidden else ""
        self.query_one("#person-title", Static).update(
            f"{person.name or 'Unnamed'} · {person.faces:,} faces · {person.photos:,} photos{hidden}"
            "   (space: select · Enter: photo · ?: all keys)"
        )
        self._info()

    # -- actions --------------------------------------------------------------------------------
    def _faces(self) -> list[int]:
        return self._targets()

    def action_name(self) -> None:
        if self.person is not None:
            self.papp.ask_name(self.person, merged=self._merged)

    def action_merge(self) -> None:
        if self.person is not None:
            self.papp.ask_merge(self.person, then=self._merged)

    def _merged(self, into: int) -> None:
        self.person_id = into  # this person now lives on in the one it was merged into
        self.reload()

    def action_hide(self) -> None:
        if self.person is not None:
            self.papp.toggle_hidden(self.person)

    def action_split(self) -> None:
        faces = self._faces()
        if faces:
            self.papp.ask_split(faces, then=self._done)

    def action_move(self) -> None:
        faces = self._faces()
        if faces:
            self.papp.ask_move(faces, exclude=[self.person_id], then=self._done)

    def action_remove(self) -> None:
        faces = self._faces()
        if faces:
            self.papp.edit(
                lambda lib: lib.remove(faces),
                f"{len(faces)} face{'s' if len(faces) > 1 else ''} removed from this person",
                then=self._done,
            )

    def action_confirm(self) -> None:
        faces = self._faces()
        if faces:
            self.papp.edit(lambda lib: lib.confirm(faces), f"{len(faces)} confirmed", then=self._done)

    def action_cover(self) -> None:
        face = self.query_one(FaceGrid).current
        if face is not None:
            pid = self.person_id
            self.papp.edit(lambda lib: lib.set_cover(pid, face.id), "Cover face set")
