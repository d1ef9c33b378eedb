"""A virtual grid: a fixed pool of tiles, rebound to the visible slice of a long list of items.

Only the tiles that fit on screen exist (a few dozen), whatever the number of items (thousands of
people, tens of thousands of faces): moving the cursor or scrolling rebinds them. Pictures come
from the app's thumbnail cache and are loaded by a worker for the visible items only.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, cast

from PIL import Image as PILImage
from rich.text import Text
from textual import events
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Static

from photoclust.types import Face, Person, clock

if TYPE_CHECKING:
    from photoclust.tui.app import PhotoclustApp

T = TypeVar("T")

# Zoom levels of the picture grids: the picture of a tile in cells (half-blocks draw two pixels a cell
# high, so w = 2 h is square). + / - step through them; the choice is kept in the UI settings.
TILE_SIZES: tuple[tuple[int, int], ...] = ((10, 5), (12, 6), (16, 8), (24, 12), (32, 16), (44, 22))
DEFAULT_TILE_SIZE = 2  # the largest level chosen without asking, when two rows of it fit


@dataclass(frozen=True)
class UnknownEntry:
    """The People grid's entry for the faces that belong to nobody yet."""

    faces: int | None  # None while counting
    cover_face_id: int | None


class Tile(Widget):
    """One cell of a :class:`VirtualGrid`; shows whichever item the grid binds to it."""

    class Clicked(Message):
        def __init__(self, tile: Tile, shift: bool, chain: int) -> None:
            super().__init__()
            self.tile = tile
            self.shift = shift
            self.chain = chain

    def __init__(self, thumb: tuple[int, int] = TILE_SIZES[DEFAULT_TILE_SIZE]) -> None:
        super().__init__()
        self.index = -1
        self.image_id: int | None = None
        self._picture: PILImage.Image | None = None
        self._texts: dict[str, str] = {}
        self._thumb = thumb

    def compose(self) -> ComposeResult:
        app = cast("PhotoclustApp", self.app)
        image = app.image_class(classes="thumb")
        image.styles.width, image.styles.height = self._thumb
        yield image
        yield Static(classes="line1", markup=False)
        yield Static(classes="line2", markup=False)

    def set_thumb_size(self, thumb: tuple[int, int]) -> None:
        if thumb == self._thumb:
            return
        self._thumb = thumb
        image = self.query_one(".thumb")
        image.styles.width, image.styles.height = thumb

    def set_picture(self, picture: PILImage.Image | None) -> None:
        if picture is self._picture:
            return
        self._picture = picture
        image = self.query_one(".thumb")
        image.image = picture  # type: ignore[attr-defined]

    def set_text(self, part: str, text: str) -> None:
        if self._texts.get(part) == text:
            return
        self._texts[part] = text
        self.query_one(f".{part}", Static).update(Text(text, no_wrap=True, overflow="ellipsis"))

    def on_click(self, event: events.Click) -> None:
        event.stop()
        self.post_message(self.Clicked(self, event.shift, event.chain))


class VirtualGrid(Widget, Generic[T], can_focus=True):
    """A focusable grid of tiles over ``items``, with a cursor and (optionally) a multi-selection."""

    # a tile's size around its picture: borders, margins and text lines
    TILE_EXTRA_WIDTH: ClassVar[int] = 4
    TILE_EXTRA_HEIGHT: ClassVar[int] = 4
    MULTI_SELECT: ClassVar[bool] = False

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up", "move(0, -1)", "Up", show=False),
        Binding("down", "move(0, 1)", "Down", show=False),
        Binding("left", "move(-1, 0)", "Left", show=False),
        Binding("right", "move(1, 0)", "Right", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "jump(0)", "First", show=False),
        Binding("end", "jump(-1)", "Last", show=False),
        Binding("enter", "activate", "Open"),
    ]

    class Highlighted(Message):
        """The cursor moved to ``item`` (None: the grid is empty)."""

        def __init__(self, grid: VirtualGrid[Any], item: Any) -> None:
            super().__init__()
            self.grid = grid
            self.item = item

    class Activated(Message):
        """Enter (or a click) on ``item``."""

        def __init__(self, grid: VirtualGrid[Any], item: Any) -> None:
            super().__init__()
            self.grid = grid
            self.item = item

    class SelectionChanged(Message):
        def __init__(self, grid: VirtualGrid[Any]) -> None:
            super().__init__()
            self.grid = grid

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.items: list[T] = []
        self.cursor = 0
        self.top = 0  # first visible row
        self.selected: set[int] = set()  # keys of selected items
        self._anchor: int | None = None
        self._base_selection: set[int] = set()
        self._cols = 0
        self._rows = 0
        self._tiles: list[Tile] = []
        self._last_highlight: object = object()
        self._level = DEFAULT_TILE_SIZE

    # -- to implement ---------------------------------------------------------------------------
    def key_of(self, item: T) -> int:
        raise NotImplementedError

    def picture_of(self, item: T) -> int | None:
        """The face id whose thumbnail pictures ``item``."""
        raise NotImplementedError

    def describe(self, tile: Tile, item: T) -> None:
        """Fill the tile's text lines for ``item``."""
        raise NotImplementedError

    # -- public -------------------------------------------------------------------------------
    @property
    def current(self) -> T | None:
        return self.items[self.cursor] if 0 <= self.cursor < len(self.items) else None

    @property
    def columns(self) -> int:
        return self._cols

    @property
    def visible_range(self) -> tuple[int, int]:
        """Indices [first, last) of the items on screen."""
        first = self.top * max(1, self._cols)
        return first, min(len(self.items), first + len(self._tiles))

    def set_items(self, items: Iterable[T], keep_cursor: bool = True) -> None:
        """Show new items; the cursor stays on the same item (by key) or at the same position."""
        old = self.current
        self.items = list(items)
        if keep_cursor and old is not None:
            key = self.key_of(old)
            for i, item in enumerate(self.items):
                if self.key_of(item) == key:
                    self.cursor = i
                    break
        if not keep_cursor:
            self.cursor = 0
            self.top = 0
        keys = {self.key_of(i) for i in self.items}
        self.selected &= keys
        self._base_selection &= keys
        self._sync()

    def selected_items(self) -> list[T]:
        return [i for i in self.items if self.key_of(i) in self.selected]

    def targets(self) -> list[T]:
        """The selection, or the item under the cursor when nothing is selected."""
        chosen = self.selected_items()
        if chosen:
            return chosen
        return [self.current] if self.current is not None else []

    def clear_selection(self) -> bool:
        had = bool(self.selected)
        self.selected.clear()
        self._anchor = None
        self._sync()
        if had:
            self.post_message(self.SelectionChanged(self))
        return had

    def select_all(self) -> None:
        keys = {self.key_of(i) for i in self.items}
        self.selected = set() if self.selected == keys else keys
        self._anchor = None
        self._sync()
        self.post_message(self.SelectionChanged(self))

    def toggle(self, index: int | None = None) -> None:
        i = self.cursor if index is None else index
        if not 0 <= i < len(self.items):
            return
        self.selected ^= {self.key_of(self.items[i])}
        self._anchor = None
        self._sync()
        self.post_message(self.SelectionChanged(self))

    def refresh_pictures(self) -> None:
        """Called when thumbnails arrive: rebind the pictures of the visible tiles."""
        app = cast("PhotoclustApp", self.app)
        for tile in self._tiles:
            if tile.image_id is not None:
                tile.set_picture(app.backend.cached_thumbnail(tile.image_id))

    # -- layout -------------------------------------------------------------------------------
    @property
    def level(self) -> int:
        """The zoom level in use (an index into :data:`TILE_SIZES`)."""
        return self._level

    @property
    def rows(self) -> int:
        return self._rows

    def tile_size(self, level: int) -> tuple[int, int]:
        """(width, height) in cells of a tile at this zoom level."""
        w, h = TILE_SIZES[level]
        return w + self.TILE_EXTRA_WIDTH, h + self.TILE_EXTRA_HEIGHT

    def fitting_level(self, height: int) -> int:
        """The level chosen when the user has not chosen one: the largest up to the default at which
        two rows fit (at 80x24 a single row of big cards hides most people), else the smallest."""
        for level in range(DEFAULT_TILE_SIZE, -1, -1):
            if height // self.tile_size(level)[1] >= 2:
                return level
        return 0

    def wanted_level(self) -> int:
        chosen = getattr(self.app, "tile_size", None)
        if isinstance(chosen, int):
            return max(0, min(chosen, len(TILE_SIZES) - 1))
        return self.fitting_level(self.size.height)

    async def on_resize(self, event: events.Resize) -> None:
        await self.relayout()

    async def relayout(self) -> None:
        """Fit the tiles to the grid's size and the zoom level (after a resize, or + / -)."""
        size = self.size
        if not size.width or not size.height:
            return
        level = self.wanted_level()
        tile_w, tile_h = self.tile_size(level)
        cols = max(1, size.width // tile_w)
        rows = max(1, size.height // tile_h)
        if (cols, rows, level) == (self._cols, self._rows, self._level) and self._tiles:
            return
        if level != self._level:
            self._level = level
            self.styles.grid_columns = str(tile_w)
            self.styles.grid_rows = str(tile_h)
            for tile in self._tiles:
                tile.set_thumb_size(TILE_SIZES[level])
        self._cols, self._rows = cols, rows
        self.styles.grid_size_columns = cols
        wanted = cols * rows
        if len(self._tiles) < wanted:
            new = [self.make_tile() for _ in range(wanted - len(self._tiles))]
            await self.mount_all(new)
            self._tiles.extend(new)  # only once composed: _sync may run meanwhile (data arriving)
        elif len(self._tiles) > wanted:
            extra = self._tiles[wanted:]
            self._tiles = self._tiles[:wanted]
            await self.remove_children(extra)
        self._sync()

    def make_tile(self) -> Tile:
        return Tile(TILE_SIZES[self._level])

    def _sync(self) -> None:
        n = len(self.items)
        cols, rows = max(1, self._cols), max(1, self._rows)
        self.cursor = max(0, min(self.cursor, n - 1)) if n else 0
        crow = self.cursor // cols
        if crow < self.top:
            self.top = crow
        elif crow >= self.top + rows:
            self.top = crow - rows + 1
        total_rows = -(-n // cols)
        self.top = max(0, min(self.top, max(0, total_rows - rows)))
        if self._tiles:
            app = cast("PhotoclustApp", self.app)
            want: list[int] = []
            for i, tile in enumerate(self._tiles):
                idx = self.top * cols + i
                tile.index = idx
                item = self.items[idx] if idx < n else None
                tile.set_class(item is None, "-empty")
                if item is None:
                    tile.image_id = None
                    tile.set_picture(None)
                    tile.set_class(False, "-cursor", "-selected")
                    continue
                tile.set_class(idx == self.cursor, "-cursor")
                tile.set_class(self.key_of(item) in self.selected, "-selected")
                self.describe(tile, item)
                face_id = self.picture_of(item)
                tile.image_id = face_id
                if face_id is None:
                    tile.set_picture(None)
                elif app.backend.has_thumbnail(face_id):
                    tile.set_picture(app.backend.cached_thumbnail(face_id))
                else:
                    want.append(face_id)
            if want:
                app.want_thumbnails(want, self.refresh_pictures)
        current = self.current
        marker = (self.key_of(current) if current is not None else None, n)
        if marker != self._last_highlight:
            self._last_highlight = marker
            self.post_message(self.Highlighted(self, current))

    # -- keys and mouse -----------------------------------------------------------------------
    def _move_to(self, index: int, extend: bool = False) -> None:
        if not self.items:
            return
        index = max(0, min(index, len(self.items) - 1))
        if extend and self.MULTI_SELECT:
            if self._anchor is None:
                self._anchor = self.cursor
                self._base_selection = set(self.selected)
            lo, hi = sorted((self._anchor, index))
            self.selected = self._base_selection | {self.key_of(self.items[i]) for i in range(lo, hi + 1)}
            self.post_message(self.SelectionChanged(self))
        else:
            self._anchor = None
        self.cursor = index
        self._sync()

    def action_move(self, dx: int, dy: int, extend: bool = False) -> None:
        self._move_to(self.cursor + dx + dy * max(1, self._cols), extend)

    def action_page(self, direction: int) -> None:
        self._move_to(self.cursor + direction * max(1, self._cols) * max(1, self._rows - 1 or 1))

    def action_jump(self, where: int) -> None:
        self._move_to(0 if where == 0 else len(self.items) - 1)

    def action_activate(self) -> None:
        if self.current is not None:
            self.post_message(self.Activated(self, self.current))

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        event.stop()
        self.action_move(0, 1)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        event.stop()
        self.action_move(0, -1)

    def on_tile_clicked(self, message: Tile.Clicked) -> None:
        message.stop()
        index = message.tile.index
        if not 0 <= index < len(self.items):
            return
        self.focus()
        if not self.MULTI_SELECT:
            self._move_to(index)
            self.action_activate()
            return
        if message.chain >= 2:
            self._move_to(index)
            self.action_activate()
        elif message.shift:
            self._move_to(index, extend=True)
        else:
            self.cursor = index
            self.toggle(index)


class PeopleGrid(VirtualGrid[Person | UnknownEntry]):
    """Person cards: cover face, name (or "Unnamed · 23 faces"), counts. Click or Enter opens."""

    TILE_EXTRA_WIDTH = 4  # border and margin
    TILE_EXTRA_HEIGHT = 4  # border and two lines

    def key_of(self, item: Person | UnknownEntry) -> int:
        return -1 if isinstance(item, UnknownEntry) else item.id

    def picture_of(self, item: Person | UnknownEntry) -> int | None:
        return item.cover_face_id

    def make_tile(self) -> Tile:
        return Tile(TILE_SIZES[self.level]).add_class("person-card")

    def describe(self, tile: Tile, item: Person | UnknownEntry) -> None:
        if isinstance(item, UnknownEntry):
            tile.set_text("line1", "Unknown faces")
            tile.set_text("line2", "counting…" if item.faces is None else _plural(item.faces, "face"))
            tile.set_class(True, "-unknown")
            tile.set_class(False, "-hidden")
            return
        tile.set_class(False, "-unknown")
        tile.set_class(item.hidden, "-hidden")
        tile.set_text("line1", item.label)
        counts = f"{_plural(item.faces, 'face')} · {_plural(item.photos, 'photo')}"
        if not item.name:
            counts = _plural(item.photos, "photo")
        tile.set_text("line2", ("hidden · " if item.hidden else "") + counts)


class FaceGrid(VirtualGrid[Face]):
    """Face pictures with a multi-selection: space, shift+arrows, click, shift+click; `a` toggles all."""

    TILE_EXTRA_WIDTH = 2  # border
    TILE_EXTRA_HEIGHT = 3  # border and one line
    MULTI_SELECT = True

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_face", "Select", show=False),
        Binding("shift+up", "move(0, -1, True)", "Extend up", show=False),
        Binding("shift+down", "move(0, 1, True)", "Extend down", show=False),
        Binding("shift+left", "move(-1, 0, True)", "Extend left", show=False),
        Binding("shift+right", "move(1, 0, True)", "Extend right", show=False),
        Binding("a", "select_all", "Select all", show=False),
        Binding("enter", "activate", "Photo", show=False),
    ]

    def __init__(self, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.cover_face_id: int | None = None

    def key_of(self, item: Face) -> int:
        return item.id

    def picture_of(self, item: Face) -> int | None:
        return item.id

    def make_tile(self) -> Tile:
        return Tile(TILE_SIZES[self.level]).add_class("face-tile")

    def describe(self, tile: Tile, item: Face) -> None:
        marks = []
        if item.id == self.cover_face_id:
            marks.append("★ cover")
        if item.confirmed:
            marks.append("✓")
        if item.flags:
            marks.append("⚠")
        if item.video_time is not None:
            marks.append(f"▶ {clock(item.video_time)}")  # a face of a video, at its best frame
        tile.set_text("line1", " ".join(marks) or f"#{item.id}")
        tile.set_text("line2", "")

    def action_toggle_face(self) -> None:
        self.toggle()

    def action_select_all(self) -> None:
        self.select_all()


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"
