"""Search by person: all / any / only, on a real scanned library and on synthetic rows (edge cases)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from photoclust.cli import cli
from photoclust.config import ScanSettings
from photoclust.errors import NotFound
from photoclust.library import Library
from photoclust.search import suggest
from photoclust.store import Store, backup_database, blob_to_vector
from photoclust.types import AnalysedPhoto, DetectedFace, FaceCrop, FaceQuality, FileEntry, PhotoInfo, SearchHit

SAMPLE = [
    "obama/01.jpg",
    "obama/02.jpg",
    "biden/01.jpg",
    "group/face_recognition_obama_and_biden.jpg",
    "group/face_recognition_kit_with_rose.jpg",
    "kit_harington/01.jpeg",
    "rose_leslie/01.jpg",
]


# --------------------------------------------------------------------------------------------------
# A real library: the sample photos scanned through the real models, people named via the People API
# --------------------------------------------------------------------------------------------------


def _closest(lib: Library, photo: str, reference: str) -> int:
    """The face of ``photo`` closest to the (single) face of ``reference``."""
    db = lib.store.db

    def faces(path: str) -> list[tuple[int, np.ndarray]]:
        rows = db.execute(
            "SELECT f.id, f.embedding FROM faces f JOIN files fl ON fl.photo_id = f.photo_id WHERE fl.path = ?", [path]
        ).fetchall()
        return [(int(i), blob_to_vector(e)) for i, e in rows]

    ref = faces(reference)
    assert len(ref) == 1, reference
    return max(faces(photo), key=lambda f: float(f[1] @ ref[0][1]))[0]


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory, photos_dir: Path) -> tuple[Path, dict[str, str], dict[str, int]]:
    base = tmp_path_factory.mktemp("search")
    paths = {}
    for name in SAMPLE:
        target = base / "Photos" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(photos_dir / name, target)
        paths[name] = str(target)
    db = base / "lib.db"
    with Library(db) as lib:
        report = lib.scan([base / "Photos"], settings=ScanSettings(workers=1))
        assert report.new == len(SAMPLE) and report.unreadable == 0
        group_ob, group_kr = paths[SAMPLE[3]], paths[SAMPLE[4]]
        obama = [_closest(lib, paths[n], paths["obama/01.jpg"]) for n in ("obama/01.jpg", "obama/02.jpg")]
        obama.append(_closest(lib, group_ob, paths["obama/01.jpg"]))
        biden = [_closest(lib, p, paths["biden/01.jpg"]) for p in (paths["biden/01.jpg"], group_ob)]
        kit = [_closest(lib, p, paths["kit_harington/01.jpeg"]) for p in (paths["kit_harington/01.jpeg"], group_kr)]
        rose = [_closest(lib, p, paths["rose_leslie/01.jpg"]) for p in (paths["rose_leslie/01.jpg"], group_kr)]
        ids = {
            "obama": lib.create_person("Barack Obama", obama),
            "biden": lib.create_person("Joe Biden", biden),
            "kit": lib.create_person("Kit Harington", kit),
            "rose": lib.create_person("Rose Leslie", rose),
        }
        # the third face of the Obama-and-Biden photo (a child, turned away) stays unknown
        others = [f for f, _n in lib.photo_faces(_photo_id(lib, group_ob)) if f.person_id is None]
        assert len(others) == 1
    return db, paths, ids


def _photo_id(lib: Library, path: str) -> int:
    return int(lib.store.db.execute("SELECT photo_id FROM files WHERE path = ?", [path]).fetchone()[0])


def _found(lib: Library, names: list[str], mode: str) -> set[str]:
    rows = lib.search(names, mode)  # type: ignore[arg-type]
    assert len(rows) == len({hit.photo_id for hit in rows}), "a photo came back twice"
    return {hit.path for hit in rows}


@pytest.mark.slow
def test_all_any_only_on_a_real_library(library: tuple[Path, dict[str, str], dict[str, int]]) -> None:
    db, p, _ids = library
    ob, kr = p[SAMPLE[3]], p[SAMPLE[4]]
    with Library(db) as lib:
        assert _found(lib, ["Barack Obama"], "all") == {p["obama/01.jpg"], p["obama/02.jpg"], ob}
        assert _found(lib, ["barack obama", "JOE BIDEN"], "all") == {ob}
        assert _found(lib, ["Barack Obama", "Joe Biden"], "any") == {
            p["obama/01.jpg"],
            p["obama/02.jpg"],
            p["biden/01.jpg"],
            ob,
        }
        assert _found(lib, ["Barack Obama"], "only") == {p["obama/01.jpg"], p["obama/02.jpg"]}
        assert _found(lib, ["Kit Harington", "Rose Leslie"], "only") == {kr}
        assert _found(lib, ["Kit Harington"], "only") == {p["kit_harington/01.jpeg"]}
        assert _found(lib, ["Kit Harington", "Barack Obama"], "all") == set()
        # the child's face in the Obama-and-Biden photo is unknown and of good quality: somebody else
        assert _found(lib, ["Barack Obama", "Joe Biden"], "only") == set()
        rows = lib.search(["Barack Obama"], "all")
        assert all(Path(path).is_absolute() and Path(path).exists() for _pid, path, _time in rows)
        assert all(isinstance(hit.photo_id, int) and hit.time is None for hit in rows)  # photos: no time


@pytest.mark.slow
def test_only_counts_named_and_unknown_faces_until_they_are_not_faces(
    library: tuple[Path, dict[str, str], dict[str, int]], tmp_path: Path
) -> None:
    db, p, _ids = library
    backup_database(db, tmp_path / "lib.db")
    ob = p[SAMPLE[3]]
    with Library(tmp_path / "lib.db") as lib:
        child = next(f for f, _n in lib.photo_faces(_photo_id(lib, ob)) if f.person_id is None)
        lib.create_person("Child", [child.id])
        assert _found(lib, ["Barack Obama", "Joe Biden"], "only") == set()
        assert _found(lib, ["Barack Obama", "Joe Biden", "Child"], "only") == {ob}
        lib.not_a_face([child.id])
        assert _found(lib, ["Barack Obama", "Joe Biden"], "only") == {ob}


@pytest.mark.slow
def test_cli_search_prints_paths_and_unknown_names_suggest(
    library: tuple[Path, dict[str, str], dict[str, int]],
) -> None:
    db, p, ids = library
    runner = CliRunner()
    r = runner.invoke(cli, ["search", "Barack Obama", "Joe Biden", "--any", "--db", str(db)])
    assert r.exit_code == 0, r.output
    lines = r.output.splitlines()
    assert set(lines) == {p["obama/01.jpg"], p["obama/02.jpg"], p["biden/01.jpg"], p[SAMPLE[3]]}
    r = runner.invoke(cli, ["search", "Rose Leslie", "Kit Harington", "--only", "--json", "--db", str(db)])
    assert r.exit_code == 0 and [row["path"] for row in json.loads(r.output)] == [p[SAMPLE[4]]]
    # ids work where names do
    r = runner.invoke(cli, ["search", str(ids["kit"]), "--db", str(db)])
    assert r.exit_code == 0 and len(r.output.splitlines()) == 2
    r = runner.invoke(cli, ["search", "Barak Obama", "--db", str(db)])
    assert r.exit_code == 1
    assert r.output.startswith("Error: no person named 'Barak Obama': did you mean 'Barack Obama'?")
    assert r.output.count("\n") == 1
    r = runner.invoke(cli, ["search", "obama", "--db", str(db)])
    assert r.exit_code == 1 and "did you mean 'Barack Obama'" in r.output


@pytest.mark.slow
def test_cli_person_shows_faces_and_photos(library: tuple[Path, dict[str, str], dict[str, int]]) -> None:
    db, p, ids = library
    r = CliRunner().invoke(cli, ["person", "joe biden", "--json", "--db", str(db)])
    assert r.exit_code == 0, r.output
    data = json.loads(r.output)
    assert data["id"] == ids["biden"] and data["name"] == "Joe Biden"
    assert {f["path"] for f in data["faces"]} == {p["biden/01.jpg"], p[SAMPLE[3]]}
    assert all(f["confirmed"] for f in data["faces"])
    assert {ph["path"] for ph in data["photos"]} == {p["biden/01.jpg"], p[SAMPLE[3]]}
    r = CliRunner().invoke(cli, ["person", str(ids["kit"]), "--db", str(db)])
    assert r.exit_code == 0 and r.output.startswith("Kit Harington (person")
    r = CliRunner().invoke(cli, ["person", "Kit Harrington", "--db", str(db)])
    assert r.exit_code == 1 and "did you mean 'Kit Harington'" in r.output


# --------------------------------------------------------------------------------------------------
# Synthetic rows in a real SQLite file: the edge cases of the modes, no models
# --------------------------------------------------------------------------------------------------


def add_photo(store: Store, key: str, faces: list[str], taken_at: str | None = None) -> list[int]:
    """A photo with faces; each face is '' (good quality) or a flag such as 'blurry'. Returns face ids."""
    crops = tuple(
        FaceCrop(
            DetectedFace((10.0 + 60 * j, 10.0, 60.0 + 60 * j, 70.0), ((0.0, 0.0),) * 5, 0.999),
            FaceQuality(50.0, 100.0, 0.0, tuple(x for x in [flag] if x)),
            np.zeros((0,), np.uint8),
            b"thumb",
        )
        for j, flag in enumerate(faces)
    )
    emb = np.eye(512, dtype=np.float32)[: len(faces)]
    info = PhotoInfo(f"sha-{key}", 640, 480, taken_at, "JPEG")
    store.write_batch([(AnalysedPhoto(FileEntry(f"/photos/{key}.jpg", 1, 1), info, crops), emb, "m")], [], [])
    rows = store.db.execute(
        "SELECT faces.id FROM faces JOIN photos ON photos.id = faces.photo_id WHERE sha256 = ? ORDER BY faces.id",
        [f"sha-{key}"],
    ).fetchall()
    return [int(r[0]) for r in rows]


@pytest.fixture
def synth(tmp_path: Path) -> Library:
    lib = Library(tmp_path / "lib.db")
    yield lib
    lib.close()


def paths(rows: list[SearchHit]) -> list[str]:
    return [hit.path for hit in rows]


def test_only_ignores_flagged_unknown_faces_but_not_good_ones(synth: Library) -> None:
    a1, blurry = add_photo(synth.store, "a_and_blurry_stranger", ["", "blurry"])
    a2, stranger = add_photo(synth.store, "a_and_clear_stranger", ["", ""])
    (a3,) = add_photo(synth.store, "a_alone", [""])
    alice = synth.create_person("Alice", [a1, a2, a3])
    assert set(paths(synth.search(["Alice"], "only"))) == {"/photos/a_and_blurry_stranger.jpg", "/photos/a_alone.jpg"}
    # a flagged face that is somebody (assigned to a person, even unnamed or hidden) does count
    bob = synth.create_person(None, [blurry])
    assert paths(synth.search(["Alice"], "only")) == ["/photos/a_alone.jpg"]
    synth.hide(bob)
    assert paths(synth.search(["Alice"], "only")) == ["/photos/a_alone.jpg"]
    synth.not_a_face([stranger])
    assert set(paths(synth.search(["alice"], "only"))) == {"/photos/a_and_clear_stranger.jpg", "/photos/a_alone.jpg"}
    assert synth.resolve_person("ALICE") == alice


def test_modes_order_missing_files_and_shared_names(synth: Library) -> None:
    (a1,) = add_photo(synth.store, "2019", [""], taken_at="2019-06-01T10:00:00")
    a2, b2 = add_photo(synth.store, "2015", ["", ""], taken_at="2015-01-01T10:00:00")
    (b3,) = add_photo(synth.store, "undated", [""])
    (c4,) = add_photo(synth.store, "gone", [""])
    a = synth.create_person("Ann", [a1, a2])
    synth.create_person("Bob", [b2])
    # two people called Bob (not merged yet): a name stands for both
    synth.create_person("bob", [b3])
    synth.create_person("Cy", [c4])
    assert paths(synth.search(["Ann"], "all")) == ["/photos/2015.jpg", "/photos/2019.jpg"]  # oldest first
    assert paths(synth.search(["Bob"], "any")) == ["/photos/2015.jpg", "/photos/undated.jpg"]  # undated last
    assert paths(synth.search(["Ann", "Bob"], "all")) == ["/photos/2015.jpg"]
    assert paths(synth.search(["Ann", "Bob"], "only")) == ["/photos/2015.jpg"]
    assert paths(synth.search(["Ann", "Bob"], "any")) == ["/photos/2015.jpg", "/photos/2019.jpg", "/photos/undated.jpg"]
    assert paths(synth.search([str(a)], "only")) == ["/photos/2019.jpg"]
    synth.store.mark_missing(["/photos/gone.jpg"])
    assert synth.search(["Cy"], "any") == []
    with pytest.raises(ValueError):
        synth.search(["Ann"], "some")  # type: ignore[arg-type]


def test_unknown_names_suggest_the_closest(synth: Library) -> None:
    (f,) = add_photo(synth.store, "x", [""])
    synth.create_person("Grandma Rose", [f])
    with pytest.raises(NotFound, match=r"no person named 'grandma roze': did you mean 'Grandma Rose'\?"):
        synth.search(["grandma roze"], "all")
    with pytest.raises(NotFound, match="did you mean 'Grandma Rose'"):
        synth.resolve_person("rose")
    with pytest.raises(NotFound, match="see 'photoclust people'"):
        synth.resolve_person("Xavier")
    with pytest.raises(NotFound, match="no person with id 99"):
        synth.resolve_person("99")
    assert suggest("jon", ["John Smith", "Jane Doe", "Jonas"]) == ["Jonas", "John Smith"]
    assert suggest("zoe", ["Zoë", "Bob"]) == ["Zoë"]
    assert suggest("", ["Ann"]) == []


def test_search_indices_exist_and_are_used(synth: Library) -> None:
    db = synth.store.db
    names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"faces_person_photo", "faces_photo_person", "files_photo_present"} <= names
    assert "0003_search" in {r[0] for r in db.execute("SELECT name FROM _migrations")}
    plan = " ".join(
        str(r) for r in db.execute("EXPLAIN QUERY PLAN SELECT photo_id FROM faces WHERE person_id = 1 AND not_face = 0")
    )
    assert "COVERING INDEX faces_person_photo" in plan
