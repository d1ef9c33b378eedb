"""People edits and undo/redo on a real SQLite file (faces with synthetic embeddings, no models)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from photoclust.errors import ConstraintError, NotFound, NothingToUndo
from photoclust.people import People
from photoclust.store import Store
from photoclust.types import AnalysedPhoto, DetectedFace, FaceCrop, FaceQuality, FileEntry, PhotoInfo
from tests.helpers import snapshot


def add_photos(store: Store, faces_per_photo: list[int], seed: int = 0) -> list[list[int]]:
    """Write photos with the given numbers of faces; returns face ids per photo."""
    rng = np.random.default_rng(seed)
    rows = []
    for i, n in enumerate(faces_per_photo):
        faces = tuple(
            FaceCrop(
                DetectedFace((10.0 + 60 * j, 10.0, 60.0 + 60 * j, 70.0), ((0.0, 0.0),) * 5, 0.999),
                FaceQuality(50.0, 100.0, 0.0, ()),
                np.zeros((0,), np.uint8),
                b"thumb",
            )
            for j in range(n)
        )
        emb = rng.normal(size=(n, 512)).astype(np.float32)
        emb /= np.linalg.norm(emb, axis=1, keepdims=True) + 1e-9
        info = PhotoInfo(f"sha{i}", 640, 480, None, "JPEG")
        rows.append((AnalysedPhoto(FileEntry(f"/photos/{i}.jpg", 1, 1), info, faces), emb, "m"))
    store.write_batch(rows, [], [])
    out = []
    for i in range(len(faces_per_photo)):
        ids = store.db.execute(
            "SELECT faces.id FROM faces JOIN photos ON photos.id = faces.photo_id WHERE sha256 = ? ORDER BY faces.id",
            [f"sha{i}"],
        ).fetchall()
        out.append([int(r[0]) for r in ids])
    return out


@pytest.fixture
def lib(tmp_path: Path) -> tuple[Store, People, list[list[int]]]:
    store = Store.open(tmp_path / "lib.db")
    faces = add_photos(store, [1, 1, 1, 1, 2, 1])
    yield store, People(store), faces
    store.close()


def test_create_name_merge_split_and_undo_everything(lib: tuple[Store, People, list[list[int]]]) -> None:
    store, people, f = lib
    states = [snapshot(store)]
    a = people.create_person(face_ids=[f[0][0], f[1][0]])
    states.append(snapshot(store))
    b = people.create_person(face_ids=[f[2][0], f[3][0]])
    states.append(snapshot(store))
    people.name(a, "Alice")
    states.append(snapshot(store))
    assert people.get(a).name == "Alice" and people.get(a).faces == 2
    people.merge([b], into=a)
    states.append(snapshot(store))
    assert people.get(a).faces == 4
    with pytest.raises(NotFound):
        people.get(b)
    c = people.split([f[2][0]], name="Carol")
    states.append(snapshot(store))
    assert people.get(c).faces == 1 and people.get(a).faces == 3
    people.remove([f[3][0]])
    states.append(snapshot(store))
    assert people.faces(None)[0].id in {f[3][0], f[4][0], f[4][1], f[5][0]}
    people.set_hidden(c)
    states.append(snapshot(store))
    assert c not in [p.id for p in people.all()] and c in [p.id for p in people.all(include_hidden=True)]
    people.not_a_face([f[1][0]])
    states.append(snapshot(store))
    people.set_cover(a, f[0][0])
    states.append(snapshot(store))
    assert people.get(a).cover_face_id == f[0][0]
    # undo walks back through every state exactly; redo walks forward again
    for expected in reversed(states[:-1]):
        people.undo()
        assert snapshot(store) == expected
    with pytest.raises(NothingToUndo):
        people.undo()
    for expected in states[1:]:
        people.redo()
        assert snapshot(store) == expected
    with pytest.raises(NothingToUndo):
        people.redo()


def test_new_edit_ends_redo_branch_and_ids_are_not_reused(lib: tuple[Store, People, list[list[int]]]) -> None:
    _store, people, f = lib
    a = people.create_person(face_ids=[f[0][0]])
    people.undo()
    b = people.create_person(face_ids=[f[1][0]])
    assert b != a  # an undone person's id is never handed out again
    with pytest.raises(NothingToUndo):
        people.redo()


def test_same_photo_faces_cannot_be_one_person(lib: tuple[Store, People, list[list[int]]]) -> None:
    _store, people, f = lib
    with pytest.raises(ConstraintError, match="same photo"):
        people.create_person(face_ids=f[4])
    a = people.create_person(face_ids=[f[4][0]])
    with pytest.raises(ConstraintError, match="same photo"):
        people.move([f[4][1]], a)
    b = people.create_person(face_ids=[f[4][1]])
    with pytest.raises(ConstraintError):
        people.merge([b], into=a)
    assert people.get(a).faces == 1 and people.get(b).faces == 1


def test_removed_face_is_rejected_and_moving_back_lifts_rejection(lib: tuple[Store, People, list[list[int]]]) -> None:
    store, people, f = lib
    a = people.create_person(face_ids=[f[0][0], f[1][0]])
    people.remove([f[1][0]])
    assert people.rejections()[f[1][0]] == {a}
    people.move([f[1][0]], a)  # the user changes their mind explicitly
    assert f[1][0] not in people.rejections()
    assert store.db.execute("SELECT confirmed FROM faces WHERE id = ?", [f[1][0]]).fetchone()[0] == 1


def test_named_person_survives_losing_all_faces(lib: tuple[Store, People, list[list[int]]]) -> None:
    _store, people, f = lib
    a = people.create_person("Dora", face_ids=[f[0][0]])
    people.remove([f[0][0]])
    assert people.get(a).name == "Dora"
    assert "Dora" in [p.name for p in people.all()]
    u = people.create_person(face_ids=[f[1][0]])
    people.remove([f[1][0]])
    with pytest.raises(NotFound):
        people.get(u)  # an unnamed person with no faces left is gone


def test_errors_are_one_line(lib: tuple[Store, People, list[list[int]]]) -> None:
    _store, people, _f = lib
    for call in (lambda: people.name(999, "x"), lambda: people.merge([1], into=999), lambda: people.move([99999], 1)):
        with pytest.raises((NotFound, ConstraintError)) as info:
            call()
        assert "\n" not in str(info.value)
    with pytest.raises(ConstraintError):
        people.name(people.create_person(face_ids=[1]), "   ")


def test_history_lists_operations(lib: tuple[Store, People, list[list[int]]]) -> None:
    _store, people, f = lib
    a = people.create_person(face_ids=[f[0][0]])
    people.name(a, "Eve")
    people.undo()
    hist = people.history()
    assert [h.kind for h in hist] == ["name", "create"]
    assert hist[0].undone and not hist[1].undone
