"""What a first-time user hits (issue 14): read-only libraries, foreign SQLite files, duplicate names,
merges of named people, and the small CLI rough edges. No model needed: the library is the real photos
of data/photos with their frozen face boxes (``tests.test_tui.build_library``).
"""

from __future__ import annotations

import hashlib
import json
import re
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from photoclust.cli import cli
from photoclust.errors import ConstraintError, DatabaseError, DuplicateName, ReadOnlyLibrary
from photoclust.library import Library
from photoclust.store import APPLICATION_ID, Store
from tests.helpers import build_library


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[int]]]:
    path = tmp_path_factory.mktemp("first-use") / "template.db"
    return path, build_library(path)


@pytest.fixture
def lib_path(tmp_path: Path, template: tuple[Path, dict[str, list[int]]]) -> Path:
    """A fresh copy of the library, in WAL mode and closed cleanly (no -wal/-shm files left)."""
    folder = tmp_path / "library"
    folder.mkdir()
    dst = folder / "lib.db"
    with Store.open(template[0]) as src:
        src.db.execute("VACUUM INTO ?", [str(dst)])
    Library(dst).close()
    assert sorted(p.name for p in folder.iterdir()) == ["lib.db"]
    return dst


@pytest.fixture
def faces(template: tuple[Path, dict[str, list[int]]]) -> dict[str, list[int]]:
    return template[1]


def invoke(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def one_line_error(r: Result, *needles: str) -> None:
    """Exit status 1 and a single ``Error: ...`` line: no traceback, no crash."""
    assert r.exit_code == 1, (r.exit_code, r.output, r.exception)
    assert isinstance(r.exception, SystemExit), r.exception
    lines = r.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), r.output
    for needle in needles:
        assert needle in lines[0], lines[0]


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- read-only libraries -----------------------------------------------------------------------------


@pytest.mark.parametrize("what", ["file", "folder"])
def test_read_only_library_reads_and_refuses_edits_in_one_line(
    lib_path: Path, read_only: Callable[[Path], None], what: str
) -> None:
    db = str(lib_path)
    people = json.loads(invoke("people", "--json", "--db", db).output)
    before = digest(lib_path)
    read_only(lib_path if what == "file" else lib_path.parent)
    # reading works ...
    r = invoke("status", "--db", db)
    assert r.exit_code == 0, r.output
    assert "(read-only)" in r.output and "Faces:         51" in r.output
    r = invoke("people", "--json", "--db", db)
    assert r.exit_code == 0 and json.loads(r.output) == people
    r = invoke("search", "Madonna", "--db", db)
    assert r.exit_code == 0 and len(r.output.splitlines()) == 6
    assert invoke("person", "Madonna", "--db", db).exit_code == 0
    # ... and every edit says, in one line, that the library is read-only
    pid = str(people[0]["id"])
    for args in (["name", pid, "X"], ["hide", pid], ["merge", pid, "--into", str(people[1]["id"])], ["cluster"]):
        one_line_error(invoke(*args, "--db", db), "read-only")
    one_line_error(invoke("undo", "--db", db), "read-only")
    assert digest(lib_path) == before


def test_sqlite_readonly_error_becomes_one_line(lib_path: Path) -> None:
    """A library that becomes read-only while it is open: SQLite's own "attempt to write a readonly
    database" is translated, and nothing is written."""
    with Library(lib_path) as lib:
        pid = lib.list_people()[0].id
        lib.store.db.execute("PRAGMA query_only = ON")
        assert not lib.readonly
        with pytest.raises(ReadOnlyLibrary, match="read-only"):
            lib.name(pid, "Somebody")
        with pytest.raises(ReadOnlyLibrary):
            lib.hide(pid)
        lib.store.db.execute("PRAGMA query_only = OFF")
        assert lib.person(pid).name != "Somebody"


def test_library_opened_read_only_on_request(lib_path: Path) -> None:
    with Library(lib_path, readonly=True) as lib:
        assert lib.readonly and lib.list_people()
        with pytest.raises(ReadOnlyLibrary):
            lib.cluster()
        assert lib.gc(dry_run=True)["photos"] == 0  # a dry run only reads


def test_backup_of_a_library_in_a_read_only_folder(
    lib_path: Path, tmp_path: Path, read_only: Callable[[Path], None]
) -> None:
    read_only(lib_path.parent)
    r = invoke("backup", str(tmp_path / "copy.db"), "--db", str(lib_path))
    assert r.exit_code == 0, r.output
    with Library(tmp_path / "copy.db") as copy:
        assert len(copy.list_people()) == 7


# -- a --db that is another application's SQLite file -----------------------------------------------


def test_foreign_sqlite_file_is_refused_untouched(tmp_path: Path) -> None:
    other = tmp_path / "notes.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE notes (id INTEGER PRIMARY KEY, text TEXT)")
    conn.execute("INSERT INTO notes (text) VALUES ('buy milk')")
    conn.commit()
    conn.close()
    before = digest(other)
    for args in (["status"], ["people"], ["scan", str(tmp_path)]):
        one_line_error(invoke(*args, "--db", str(other)), "not a photoclust library", "notes")
    with pytest.raises(DatabaseError, match="not a photoclust library"):
        Store.open(other)
    assert digest(other) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.db"]  # no -wal, no -shm either


def test_other_application_id_is_refused(tmp_path: Path) -> None:
    other = tmp_path / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("PRAGMA application_id = 1234")
    conn.commit()
    conn.close()
    with pytest.raises(DatabaseError, match="application id 0x4d2"):
        Store.open(other)


def test_libraries_are_marked_and_old_ones_recognised(lib_path: Path, tmp_path: Path) -> None:
    with Store.open(tmp_path / "new.db") as s:
        assert s.db.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    # a library written before the mark existed: recognised by its migrations, then marked
    conn = sqlite3.connect(lib_path)
    conn.execute("PRAGMA application_id = 0")
    conn.commit()
    conn.close()
    r = invoke("status", "--db", str(lib_path))
    assert r.exit_code == 0, r.output
    conn = sqlite3.connect(lib_path)
    assert conn.execute("PRAGMA application_id").fetchone()[0] == APPLICATION_ID
    conn.close()
    # an empty file (touch lib.db) is a new library
    empty = tmp_path / "empty.db"
    empty.touch()
    with Store.open(empty) as s:
        assert s.db["photos"].exists()


# -- duplicate names ----------------------------------------------------------------------------------


def test_duplicate_name_is_refused_with_a_merge_hint(lib_path: Path) -> None:
    db = str(lib_path)
    with Library(lib_path) as lib:
        madonna = next(p.id for p in lib.list_people() if p.name == "Madonna")
        unnamed = next(p.id for p in lib.list_people() if p.name is None)
    r = invoke("name", str(unnamed), "madonna ", "--db", db)  # case and spaces do not make a new name
    one_line_error(r, "already", f"photoclust merge {unnamed} --into {madonna}")
    with Library(lib_path) as lib:
        assert lib.person(unnamed).name is None and lib.history() == []
        with pytest.raises(DuplicateName) as exc:
            lib.split([lib.faces(unnamed)[0].id], "Madonna")
        assert exc.value.existing == madonna
        lib.name(madonna, "MADONNA")  # renaming a person to (a spelling of) their own name is fine
    r = invoke("name", str(unnamed), "Madonna", "--allow-duplicate", "--db", db)  # two people of one name
    assert r.exit_code == 0, r.output


# -- merge -------------------------------------------------------------------------------------------


def test_merge_refusal_names_the_real_state_of_the_face(lib_path: Path, faces: dict[str, list[int]]) -> None:
    """Joe Biden and Barack Obama share a photo; Obama's face there is only suggested (clustering's)."""
    with Library(lib_path) as lib:
        biden = lib.face(faces["biden"][0]).person_id
        obama = lib.face(faces["obama"][0]).person_id
        assert biden is not None and obama is not None
        shared = [f for f in lib.faces(obama) if "obama_and_biden" in f.path]
        assert len(shared) == 1 and not shared[0].confirmed
        with pytest.raises(ConstraintError) as exc:
            lib.merge([biden], into=obama)
        message = str(exc.value)
        assert f"face {shared[0].id}" in message and "same photo" in message
        assert "confirmed" not in message, message
        lib.confirm([shared[0].id])
        with pytest.raises(ConstraintError, match=f"confirmed face {shared[0].id}"):
            lib.merge([biden], into=obama)


def test_merging_two_named_people_keeps_the_other_name_as_an_alias(lib_path: Path, faces: dict[str, list[int]]) -> None:
    db = str(lib_path)
    with Library(lib_path) as lib:
        elton = lib.face(faces["elton_john"][0]).person_id
        kit = lib.face(faces["kit_harington"][0]).person_id
        assert elton is not None and kit is not None
        lib.name(kit, "Reginald Dwight")
    r = invoke("merge", str(kit), "--into", str(elton), "--db", db)
    assert r.exit_code == 0, r.output
    assert "Reginald Dwight" in r.output  # says that the name lives on as an alias
    # search and person find the person by either name
    assert invoke("search", "reginald dwight", "--db", db).output == invoke("search", "Elton John", "--db", db).output
    r = invoke("person", "Reginald Dwight", "--json", "--db", db)
    assert r.exit_code == 0, r.output
    shown = json.loads(r.output)
    assert shown["id"] == elton and shown["name"] == "Elton John" and shown["aliases"] == ["Reginald Dwight"]
    # undo gives the other person their name back, and the alias goes
    assert invoke("undo", "--db", db).exit_code == 0
    with Library(lib_path) as lib:
        assert lib.person(kit).name == "Reginald Dwight"
        assert lib.resolve_person("Reginald Dwight") == kit
        assert lib.aliases(elton) == []


def test_read_only_library_from_before_aliases_is_still_read(lib_path: Path, read_only: Callable[[Path], None]) -> None:
    conn = sqlite3.connect(lib_path)
    conn.execute("DROP TABLE aliases")
    conn.execute("DELETE FROM _migrations WHERE name = '0005_aliases'")
    conn.commit()
    conn.close()
    Library(lib_path, readonly=True).close()
    read_only(lib_path.parent)
    r = invoke("search", "Madonna", "--db", str(lib_path))
    assert r.exit_code == 0 and len(r.output.splitlines()) == 6, r.output


# -- small rough edges --------------------------------------------------------------------------------


def test_import_of_a_garbage_xmp_fails(lib_path: Path, tmp_path: Path) -> None:
    bad = tmp_path / "photo.jpg.xmp"
    bad.write_text("this is not XMP <<<")
    r = invoke("import-xmp", str(bad), "--db", str(lib_path))
    assert r.exit_code == 1, r.output
    assert "not valid XMP" in r.output


def test_export_json_uses_null_for_unknown_like_people_json(lib_path: Path) -> None:
    rows = json.loads(invoke("export", "--format", "json", "--db", str(lib_path)).output)
    unknown = [r for r in rows if r["person_id"] is None]
    assert unknown and all(r["person_name"] is None for r in unknown)
    assert not any(r["person_id"] == "" or r["person_name"] == "" for r in rows)
    csv_text = invoke("export", "--format", "csv", "--db", str(lib_path)).output
    assert ",,," in csv_text or ",,0" in csv_text  # CSV keeps empty cells for unknown


def test_search_modes_are_mutually_exclusive(lib_path: Path) -> None:
    r = invoke("search", "Madonna", "--all", "--any", "--db", str(lib_path))
    assert r.exit_code == 2 and "--all" in r.output and "--any" in r.output, r.output
    assert invoke("search", "Madonna", "--any", "--db", str(lib_path)).exit_code == 0


def test_wording_and_names_in_history(lib_path: Path, faces: dict[str, list[int]]) -> None:
    db = str(lib_path)
    with Library(lib_path) as lib:
        madonna = lib.face(faces["madonna"][0]).person_id
        kit = lib.face(faces["kit_harington"][0]).person_id
        lib.move([faces["elton_john"][0]], madonna)  # type: ignore[arg-type]
    r = invoke("merge", str(kit), str(kit), "--into", str(madonna), "--db", db)
    assert r.output.splitlines()[0] == f"Merged person {kit} into Madonna (person {madonna}).", r.output
    history = invoke("history", "--db", db).output
    assert "to person" not in history and "moved 1 face to 'Madonna'" in history, history
    assert f"merged person {kit} into 'Madonna'" in history, history
    r = invoke("person", "Madonna", "--db", db)
    assert not re.search(r"\b1 (faces|photos)\b", r.output), r.output
    status = invoke("status", "--db", db).output
    assert "People:" in status, status
