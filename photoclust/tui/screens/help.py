"""The Help screen: every key of every screen, generated from the bindings (so it cannot rot)."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Markdown

INTRO = """\
# photoclust

Find the people in your photos. Faces are found when a folder is **scanned** (ctrl+s), then grouped
into people. Name people, merge the ones that are the same, split off or remove faces that are not
them. **Every edit can be undone** (ctrl+z) and redone (ctrl+y); ctrl+l shows the history.

The mouse works too: click a person to open it, click faces to select them (shift+click: a range,
double click: the photo), scroll with the wheel.
"""


def _keys(binding: Binding) -> str:
    names = {"question_mark": "?", "escape": "Esc", "enter": "Enter", "space": "Space", "tab": "Tab"}
    names |= {"plus": "+", "equals_sign": "=", "minus": "-"}
    return " / ".join(names.get(k, k) for k in binding.key.split(","))


def bindings_table(bindings: list[BindingType]) -> str:
    rows = ["| Key | Does |", "|---|---|"]
    for b in bindings:
        if isinstance(b, Binding):
            rows.append(f"| `{_keys(b)}` | {b.description or b.action} |")
        else:
            rows.append(f"| `{b[0]}` | {b[-1]} |")
    return "\n".join(rows)


def help_markdown() -> str:
    from photoclust.tui.app import PhotoclustApp
    from photoclust.tui.screens.base import FaceGridScreen
    from photoclust.tui.screens.people import PeopleScreen
    from photoclust.tui.screens.person import PersonScreen
    from photoclust.tui.screens.photo import PhotoScreen
    from photoclust.tui.screens.scan import ScanScreen
    from photoclust.tui.screens.search import SearchScreen
    from photoclust.tui.screens.suggest import SuggestScreen
    from photoclust.tui.screens.unknown import UnknownScreen
    from photoclust.tui.widgets.grid import FaceGrid, VirtualGrid

    sections = [
        ("Everywhere", PhotoclustApp.BINDINGS),
        (
            "People (type letters to filter by name)",
            [*PeopleScreen.BINDINGS, *VirtualGrid.BINDINGS],
        ),
        ("Person (edits apply to the selected faces, or the face under the cursor)", PersonScreen.BINDINGS),
        ("Face grids (Person and Unknown faces)", [*FaceGridScreen.BINDINGS, *FaceGrid.BINDINGS]),
        ("Unknown faces (without a selection, y/s/v take the whole group)", UnknownScreen.BINDINGS),
        (
            "Same person? (pairs on the left, both people's faces on the right; Tab moves between them)",
            SuggestScreen.BINDINGS,
        ),
        ("Photo", PhotoScreen.BINDINGS),
        ("Search", SearchScreen.BINDINGS),
        ("Scan", ScanScreen.BINDINGS),
    ]
    parts = [INTRO]
    for title, bindings in sections:
        parts.append(f"## {title}\n\n{bindings_table(list(bindings))}\n")
    return "\n".join(parts)


class HelpScreen(ModalScreen[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,f1,q", "close", "Close"),
    ]

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="help"):
            yield Markdown(help_markdown())

    def on_mount(self) -> None:
        self.query_one("#help").focus()

    def action_close(self) -> None:
        self.dismiss()
