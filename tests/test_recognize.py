"""verify / identify / enrol on real photos through the real models, with a real library."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image

from photoclust import config
from photoclust.cli import cli
from photoclust.config import ScanSettings
from photoclust.errors import ConstraintError, NotFound
from photoclust.library import Library
from photoclust.store import backup_database
from tests.helpers import copy_sample

pytestmark = pytest.mark.slow

SAMPLE = ["obama/01.jpg", "obama/02.jpg", "biden/01.jpg", "group/face_recognition_obama_and_biden.jpg"]


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory, photos_dir: Path) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("recognize")
    folder = base / "Photos"
    copy_sample(photos_dir, folder, SAMPLE)
    with Library(base / "lib.db") as lib:
        assert lib.scan([folder], settings=ScanSettings(workers=1)).new == len(SAMPLE)
    return folder, base / "lib.db"


@pytest.fixture
def lib(scanned: tuple[Path, Path], tmp_path: Path) -> Library:
    """A copy of the scanned library (nobody named yet) for one test."""
    _folder, db = scanned
    backup_database(db, tmp_path / "lib.db")
    library = Library(tmp_path / "lib.db")
    yield library
    library.close()


def n_photos(lib: Library) -> int:
    return int(lib.store.db.execute("SELECT count(*) FROM photos").fetchone()[0])


def test_verify_same_and_different_people(lib: Library, scanned: tuple[Path, Path], photos_dir: Path) -> None:
    folder, _db = scanned
    same = lib.verify(folder / "obama" / "01.jpg", folder / "obama" / "02.jpg")
    assert same.same and same.distance < same.threshold == config.VERIFY_THRESHOLD
    assert same.a.face_id is not None and same.b.face_id is not None  # stored faces, nothing recomputed
    other = lib.verify(folder / "obama" / "01.jpg", folder / "biden" / "01.jpg")
    assert not other.same and other.distance > other.threshold
    # photos outside the library are analysed, not stored; a copy of a library photo is recognised by content
    before = n_photos(lib)
    outside = lib.verify(photos_dir / "obama" / "03.jpg", photos_dir / "obama" / "04.jpg")
    assert outside.same and outside.a.face_id is None
    assert not lib.verify(photos_dir / "obama" / "03.jpg", photos_dir / "madonna" / "02.jpg").same
    assert n_photos(lib) == before
    copy = lib.verify(photos_dir / "obama" / "01.jpg", folder / "obama" / "01.jpg")
    assert copy.a.face_id == copy.b.face_id and copy.distance < 1e-6
    # a group photo stands for its largest face
    group = lib.verify(folder / SAMPLE[3], folder / "biden" / "01.jpg")
    assert group.a.faces_in_photo == 3


def test_enrol_from_one_photo_then_identify_another(lib: Library, scanned: tuple[Path, Path], photos_dir: Path) -> None:
    folder, _db = scanned
    assert lib.identify(photos_dir / "obama" / "04.jpg").best is None  # nobody named yet
    before = n_photos(lib)
    r = lib.enrol("Barack Obama", [photos_dir / "obama" / "03.jpg"])
    assert r.created and r.added == (str(photos_dir / "obama" / "03.jpg"),) and n_photos(lib) == before + 1
    (face,) = r.enrolled
    assert lib.face(face).person_id == r.person_id and lib.face(face).confirmed
    matched = {m.path for m in r.matches}
    assert {str(folder / "obama" / "01.jpg"), str(folder / "obama" / "02.jpg"), str(folder / SAMPLE[3])} <= matched
    assert str(folder / "biden" / "01.jpg") not in matched
    assert all(m.distance <= r.threshold for m in r.matches) and r.assigned == 0
    assert lib.person(r.person_id).faces == 1  # listed, not assigned
    ident = lib.identify(photos_dir / "obama" / "04.jpg")
    assert ident.best is not None and ident.best.name == "Barack Obama" and ident.best.distance < ident.threshold
    assert lib.identify(photos_dir / "madonna" / "01.jpg").best is None
    # a second person: the closest named people come ranked
    lib.enrol("Joe Biden", [folder / "biden" / "01.jpg"])
    ident = lib.identify(photos_dir / "biden" / "02.jpg", top=2)
    assert [c.name for c in ident.candidates] == ["Joe Biden", "Barack Obama"]
    assert ident.best is not None and ident.best.name == "Joe Biden"
    assert not ident.candidates[1].match


def test_enrol_with_assign_is_one_undoable_operation(lib: Library, scanned: tuple[Path, Path]) -> None:
    folder, _db = scanned
    r = lib.enrol("barack   obama", [folder / "obama" / "01.jpg"], assign=True)
    assert r.name == "barack obama" and r.added == () and r.assigned == len(r.matches) >= 2
    faces = lib.faces(r.person_id)
    assert len(faces) == 1 + r.assigned
    assert sum(f.confirmed for f in faces) == 1  # the enrolled face; the matches are suggestions
    assert len({f.photo_id for f in faces}) == len(faces)
    # extending: the same name reuses the person
    r2 = lib.enrol("Barack Obama", [folder / "obama" / "02.jpg"])
    assert not r2.created and r2.person_id == r.person_id
    lib.undo()
    lib.undo()
    assert lib.list_people() == [] and all(f.person_id is None for f in lib.faces(None))


def test_enrol_respects_decisions_and_needs_a_face(lib: Library, scanned: tuple[Path, Path], tmp_path: Path) -> None:
    folder, _db = scanned
    lib.enrol("Barack Obama", [folder / "obama" / "01.jpg"])
    with pytest.raises(ConstraintError, match="confirmed as person"):
        lib.enrol("Joe Biden", [folder / "obama" / "01.jpg"])
    blank = tmp_path / "wall.jpg"
    Image.new("RGB", (320, 240), (120, 130, 140)).save(blank)
    with pytest.raises(NotFound, match="no face found"):
        lib.verify(blank, folder / "obama" / "01.jpg")
    with pytest.raises(NotFound, match="no face found"):
        lib.enrol("Nobody", [blank])
    assert [p.name for p in lib.list_people()] == ["Barack Obama"]


def test_cli_verify_identify_enrol(scanned: tuple[Path, Path], tmp_path: Path, photos_dir: Path) -> None:
    folder, db = scanned
    copy = tmp_path / "lib.db"
    backup_database(db, copy)
    run = CliRunner().invoke
    r = run(
        cli, ["verify", str(folder / "obama" / "01.jpg"), str(folder / "obama" / "02.jpg"), "--json", "--db", str(copy)]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    assert out["same"] is True and out["threshold"] == config.VERIFY_THRESHOLD and out["distance"] < out["threshold"]
    r = run(cli, ["verify", str(folder / "obama" / "01.jpg"), str(folder / "biden" / "01.jpg"), "--db", str(copy)])
    assert r.exit_code == 1 and r.output.startswith("Different people: distance ")  # like cmp
    r = run(cli, ["identify", str(folder / "biden" / "01.jpg"), "--db", str(copy)])
    assert r.exit_code == 0 and r.output.startswith("unknown: nobody is named yet")
    r = run(cli, ["enrol", "Joe Biden", str(folder / "biden" / "01.jpg"), "--yes", "--db", str(copy)])
    assert r.exit_code == 0, r.output
    assert r.output.startswith("Created 'Joe Biden' (person ") and "Gave 1 of them to 'Joe Biden'" in r.output
    r = run(cli, ["identify", str(photos_dir / "biden" / "02.jpg"), "--json", "--db", str(copy)])
    assert r.exit_code == 0 and json.loads(r.output)["name"] == "Joe Biden"
    r = run(cli, ["identify", str(photos_dir / "madonna" / "03.jpg"), "--db", str(copy)])
    assert r.exit_code == 0 and r.output.startswith("unknown: nobody within the threshold")
    # verify works without any library, and creates none
    nowhere = tmp_path / "none" / "lib.db"
    r = run(
        cli, ["verify", str(folder / "obama" / "01.jpg"), str(photos_dir / "obama" / "03.jpg"), "--db", str(nowhere)]
    )
    assert r.exit_code == 0 and r.output.startswith("Same person") and not nowhere.exists()
