"""The command-line half of the people edits (split, move, reject, confirm, not-a-face, cover, unknown), on a
real SQLite library of the photos in data/ (test_tui's library: no model needed)."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from photoclust.cli import cli
from photoclust.library import Library


@pytest.fixture
def db(library_path: Path) -> Path:
    """A fresh copy of the test library (tests/conftest.py), for the CLI to edit."""
    return library_path


@pytest.fixture
def lib(db: Path) -> Iterator[Library]:
    with Library(db) as lib:
        yield lib


def pc(db: Path, *args: object) -> Result:
    return CliRunner().invoke(cli, [*(str(a) for a in args), "--db", str(db)])


def ok(db: Path, *args: object) -> str:
    r = pc(db, *args)
    assert r.exit_code == 0, r.output
    return r.output


def fails(db: Path, *args: object) -> str:
    """A refused edit: non-zero exit status and one line, 'Error: ...'."""
    r = pc(db, *args)
    assert r.exit_code != 0 and r.output.startswith("Error: ") and r.output.count("\n") == 1, r.output
    return r.output


def person_named(lib: Library, name: str) -> int:
    return next(p.id for p in lib.list_people(include_hidden=True) if p.name == name)


def test_split_and_move_then_undo(db: Path, lib: Library, faces: dict[str, list[int]]) -> None:
    madonna = person_named(lib, "Madonna")
    two = faces["madonna"][:2]
    out = ok(db, "split", *two, "--name", "Young Madonna")
    young = person_named(lib, "Young Madonna")
    assert out.strip() == f"Faces {two[0]} and {two[1]} now form Young Madonna (person {young})."
    assert {f.id for f in lib.faces(young)} == set(two) and all(f.confirmed for f in lib.faces(young))
    assert lib.person(madonna).faces == 4
    ok(db, "move", two[0], "--to", madonna)
    assert lib.face(two[0]).person_id == madonna and lib.face(two[0]).confirmed
    assert "moved 1 face" in ok(db, "undo")
    assert lib.face(two[0]).person_id == young
    ok(db, "undo")
    assert lib.person(madonna).faces == 6
    # unnamed split: the new person's id is printed so the next command can use it
    out = ok(db, "split", two[0])
    assert out.startswith(f"Face {two[0]} now form person ")
    fails(db, "move", two[0], "--to", 99999)
    fails(db, "split", 99999)
    fails(db, "split", two[1], "--name", "Elton John")  # somebody else's name


def test_reject_is_remembered_and_undoable(db: Path, lib: Library, faces: dict[str, list[int]]) -> None:
    madonna = person_named(lib, "Madonna")
    face = faces["madonna"][0]
    assert "not Madonna" in ok(db, "reject", face, "--from", madonna)
    assert lib.face(face).person_id is None and madonna in lib.people.rejections()[face]
    lib.cluster(full=True)
    assert lib.face(face).person_id != madonna  # the decision holds against clustering
    fails(db, "reject", face, "--from", 99999)
    while "not" not in ok(db, "undo"):
        pass
    assert lib.face(face).person_id == madonna and face not in lib.people.rejections()


def test_confirm_not_a_face_and_cover(db: Path, lib: Library, faces: dict[str, list[int]]) -> None:
    elton = person_named(lib, "Elton John")
    a, b = faces["elton_john"][:2]
    assert ok(db, "confirm", a, b).strip() == f"Confirmed faces {a} and {b}."
    assert lib.face(a).confirmed and lib.face(b).confirmed
    stranger = faces["unknown"][0]
    r = pc(db, "confirm", stranger)
    assert r.exit_code == 0 and "belongs to nobody" in r.output  # nothing to confirm: said, not an error
    assert ok(db, "cover", elton, b).strip() == f"Face {b} is now the cover of Elton John (person {elton})."
    assert lib.person(elton).cover_face_id == b
    fails(db, "cover", elton, stranger)  # not Elton's face
    ok(db, "not-a-face", a)
    assert a not in {f.id for f in lib.faces(elton)} and lib.person(elton).faces == 6
    assert "not a face" in ok(db, "undo")
    assert lib.person(elton).faces == 7
    fails(db, "not-a-face", 99999)


def test_unknown_lists_groups_with_face_ids_that_the_edits_take(
    db: Path, lib: Library, faces: dict[str, list[int]]
) -> None:
    madonna = person_named(lib, "Madonna")
    groups = json.loads(ok(db, "unknown", "--json"))
    assert sorted(f["id"] for g in groups for f in g["faces"]) == sorted(faces["unknown"])
    asked = [g for g in groups if g["suggested"] is not None]
    assert [g["suggested"] for g in asked] == [{"id": madonna, "name": "Madonna"}]
    ids = [f["id"] for f in asked[0]["faces"]]
    text = ok(db, "unknown")
    assert f"probably Madonna (person {madonna})" in text
    assert f"photoclust move {' '.join(map(str, ids))} --to {madonna}" in text
    ok(db, "move", *ids, "--to", madonna)  # the command it printed works
    assert lib.person(madonna).faces == 7
    assert all(g["suggested"] is None for g in json.loads(ok(db, "unknown", "--json")))


def test_edits_on_a_read_only_library_are_one_line(
    db: Path, faces: dict[str, list[int]], read_only: Callable[[Path], None]
) -> None:
    before = db.read_bytes()
    read_only(db)
    m = faces["madonna"]
    for args in (["split", m[0]], ["move", m[0], "--to", 1], ["reject", m[0], "--from", 1], ["confirm", m[0]]):
        assert "read-only" in fails(db, *args)
    for args in (["not-a-face", m[0]], ["cover", 1, m[0]]):
        assert "read-only" in fails(db, *args)
    assert pc(db, "unknown", "--json").exit_code == 0  # reading works
    assert db.read_bytes() == before
