"""XMP face regions: geometry, parsing, merging, and round trips through exiftool on a real library."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from PIL import Image, ImageOps

from photoclust import xmp
from photoclust.cli import cli
from photoclust.config import ScanSettings
from photoclust.library import Library
from photoclust.store import backup_database
from photoclust.types import iou
from tests.helpers import copy_sample

EXIFTOOL = shutil.which("exiftool")
# Skipped on a developer machine without exiftool; in CI (where `make test` installs it) a missing exiftool fails.
needs_exiftool = pytest.mark.skipif(
    EXIFTOOL is None and not os.environ.get("CI"), reason="exiftool not installed (make install-dev installs it)"
)


def exiftool(*args: str | Path) -> str:
    assert EXIFTOOL is not None
    r = subprocess.run([EXIFTOOL, *map(str, args)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


def region_info(path: Path) -> dict[str, object]:
    data = json.loads(exiftool("-j", "-struct", "-XMP-mwg-rs:all", path))[0]
    return data.get("RegionInfo", {})


def mwg_struct(width: int, height: int, regions: list[tuple[str, str, tuple[float, float, float, float]]]) -> str:
    """exiftool's struct syntax for XMP-mwg-rs:RegionInfo; regions: (name, type, normalised x1, y1, x2, y2)."""
    items = []
    for name, kind, (x1, y1, x2, y2) in regions:
        area = f"X={(x1 + x2) / 2:.6f},Y={(y1 + y2) / 2:.6f},W={x2 - x1:.6f},H={y2 - y1:.6f},Unit=normalized"
        items.append(f"{{Area={{{area}}},Name={name},Type={kind}}}")
    return f"-XMP-mwg-rs:RegionInfo={{AppliedToDimensions={{W={width},H={height},Unit=pixel}},RegionList=[{','.join(items)}]}}"


# --------------------------------------------------------------------------------------------------
# Geometry and parsing (no models)
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_orientation_transform_matches_pillow(orientation: int) -> None:
    w, h = 200, 120
    box = (0.1, 0.2, 0.35, 0.7)  # normalised, in the stored image
    stored = Image.new("L", (w, h), 0)
    stored.paste(255, (round(box[0] * w), round(box[1] * h), round(box[2] * w), round(box[3] * h)))
    exif = Image.Exif()
    exif[0x0112] = orientation
    stored.info["exif"] = exif.tobytes()
    stored.getexif()[0x0112] = orientation
    shown = ImageOps.exif_transpose(stored)
    assert shown is not None
    ys, xs = np.nonzero(np.asarray(shown))
    sw, sh = shown.size
    found = (xs.min() / sw, ys.min() / sh, (xs.max() + 1) / sw, (ys.max() + 1) / sh)
    assert np.allclose(xmp.to_oriented(box, orientation), found, atol=1e-9)
    assert np.allclose(xmp.to_stored(found, orientation), box, atol=1e-9)


unit = st.floats(0, 1, allow_nan=False)


@given(st.tuples(unit, unit, unit, unit), st.integers(1, 8))
def test_to_stored_inverts_to_oriented(corners: tuple[float, float, float, float], orientation: int) -> None:
    x1, x2 = sorted(corners[::2])
    y1, y2 = sorted(corners[1::2])
    box = (x1, y1, x2, y2)
    assert np.allclose(xmp.to_stored(xmp.to_oriented(box, orientation), orientation), box)


def test_sidecar_names() -> None:
    assert xmp.sidecar_path("/p/IMG_1.JPG", "digikam") == Path("/p/IMG_1.JPG.xmp")
    assert xmp.sidecar_path("/p/IMG_1.JPG", "lightroom") == Path("/p/IMG_1.xmp")
    assert xmp.photo_for_sidecar("/p/IMG_1.JPG.xmp") == ("/p/IMG_1.JPG", "/p/IMG_1.JPG")
    assert xmp.photo_for_sidecar("/p/IMG_1.xmp") == (None, "/p/IMG_1")


def test_invalid_and_hostile_packets_are_refused() -> None:
    with pytest.raises(xmp.XmpError):
        xmp.read_regions("<x:xmpmeta><rdf:RDF>")
    with pytest.raises(xmp.XmpError):
        xmp.merge_regions("not xml at all <", [], (10, 10), lambda r: True)
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>'
    with pytest.raises(xmp.XmpError, match="DOCTYPE"):
        xmp.read_regions(bomb)
    assert xmp.read_regions("<x:xmpmeta xmlns:x='adobe:ns:meta/'/>").regions == ()


def test_every_rdf_form_of_a_region_is_read() -> None:
    rs, area = xmp.NS_MWGRS, xmp.NS_STAREA
    packet = f"""<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{xmp.NS_RDF}">
      <rdf:Description rdf:about="" xmlns:mwg-rs="{rs}" xmlns:stArea="{area}" xmlns:stDim="{xmp.NS_STDIM}">
        <mwg-rs:Regions><rdf:Description>
          <mwg-rs:AppliedToDimensions><rdf:Description stDim:w="400" stDim:h="200" stDim:unit="pixel"/>
          </mwg-rs:AppliedToDimensions>
          <mwg-rs:RegionList><rdf:Seq>
            <rdf:li><rdf:Description mwg-rs:Name="Attr Form" mwg-rs:Type="Face">
              <mwg-rs:Area stArea:x="0.5" stArea:y="0.5" stArea:w="0.2" stArea:h="0.4" stArea:unit="normalized"/>
            </rdf:Description></rdf:li>
            <rdf:li rdf:parseType="Resource"><mwg-rs:Name>Element Form</mwg-rs:Name>
              <mwg-rs:Area rdf:parseType="Resource"><stArea:x>200</stArea:x><stArea:y>100</stArea:y>
                <stArea:w>40</stArea:w><stArea:h>20</stArea:h><stArea:unit>pixel</stArea:unit></mwg-rs:Area>
            </rdf:li>
            <rdf:li><rdf:Description mwg-rs:Name="A point">
              <mwg-rs:Area stArea:x="0.5" stArea:y="0.5"/></rdf:Description></rdf:li>
          </rdf:Seq></mwg-rs:RegionList>
        </rdf:Description></mwg-rs:Regions>
      </rdf:Description></rdf:RDF></x:xmpmeta>"""
    info = xmp.read_regions(packet)
    assert info.dimensions == (400, 200)
    assert [r.name for r in info.regions] == ["Attr Form", "Element Form"]
    assert np.allclose(info.regions[0].box, (0.4, 0.3, 0.6, 0.7))
    assert np.allclose(info.regions[1].box, (0.45, 0.45, 0.55, 0.55))
    assert info.regions[1].type is None and info.regions[1].is_face


@needs_exiftool
def test_merge_keeps_everything_else_of_an_exiftool_sidecar(tmp_path: Path) -> None:
    side = tmp_path / "photo.jpg.xmp"
    exiftool(
        "-o",
        side,
        mwg_struct(
            640,
            480,
            [
                ("Old Name", "Face", (0.4, 0.25, 0.6, 0.55)),
                ("Rex", "Pet", (0.0, 0.0, 0.2, 0.2)),
                ("Stranger", "Face", (0.8, 0.8, 0.9, 0.9)),
            ],
        ),
        "-XMP-dc:Subject=holiday",
        "-XMP-dc:Subject=beach",
        "-XMP-xmp:Rating=4",
        "-XMP-dc:Title=Zoë & <friends>",
    )
    before = side.read_text()
    new = [xmp.Region("Alice Dupont", (0.41, 0.26, 0.61, 0.56)), xmp.Region("Bob", (0.1, 0.5, 0.2, 0.7))]
    merged = xmp.merge_regions(
        before, new, (640, 480), lambda r: r.is_face and any(iou(r.box, n.box) > 0.3 for n in new)
    )
    side.write_text(merged)
    data = json.loads(exiftool("-j", "-struct", "-XMP:all", side))[0]
    assert data["Subject"] == ["holiday", "beach"] and data["Rating"] == 4 and data["Title"] == "Zoë & <friends>"
    regions = data["RegionInfo"]["RegionList"]
    assert [r["Name"] for r in regions] == ["Rex", "Stranger", "Alice Dupont", "Bob"]
    assert regions[0]["Type"] == "Pet"
    assert data["RegionInfo"]["AppliedToDimensions"] == {"H": 480, "Unit": "pixel", "W": 640}
    alice = regions[2]["Area"]
    assert np.allclose([alice["X"], alice["Y"], alice["W"], alice["H"]], [0.51, 0.41, 0.2, 0.3])
    assert merged.startswith("<?xpacket begin=") and merged.rstrip().endswith("<?xpacket end='w'?>")
    # merging again with the same regions changes nothing
    assert xmp.merge_regions(merged, new, (640, 480), lambda r: any(iou(r.box, n.box) > 0.3 for n in new)) == merged


@needs_exiftool
def test_microsoft_regions_and_embedded_xmp_written_by_exiftool_are_read(tmp_path: Path, photos_dir: Path) -> None:
    mp = tmp_path / "mp.xmp"
    exiftool(
        "-o", mp, "-XMP-MP:RegionInfoMP={Regions=[{PersonDisplayName=Carol Danvers,Rectangle=0.1|, 0.2|, 0.3|, 0.4}]}"
    )
    info = xmp.read_regions(mp.read_text())
    assert [(r.name, r.schema) for r in info.regions] == [("Carol Danvers", "mp")]
    assert np.allclose(info.regions[0].box, (0.1, 0.2, 0.4, 0.6))
    jpeg = tmp_path / "tagged.jpg"
    exiftool("-o", jpeg, mwg_struct(100, 50, [("Dana", "Face", (0.1, 0.1, 0.3, 0.5))]), photos_dir / "obama" / "01.jpg")
    packet = xmp.read_embedded(jpeg)
    assert packet is not None
    (region,) = xmp.read_regions(packet).regions
    assert region.name == "Dana" and np.allclose(region.box, (0.1, 0.1, 0.3, 0.5))
    assert xmp.read_embedded(photos_dir / "obama" / "02.jpg") is None


# --------------------------------------------------------------------------------------------------
# A real library: export to and import from sidecars, checked with exiftool
# --------------------------------------------------------------------------------------------------

SAMPLE = ["obama/01.jpg", "group/face_recognition_kit_with_rose.jpg", "madonna/01.jpg"]


def make_rotated(src: Path, dst: Path) -> None:
    """The photo stored turned a quarter left with EXIF orientation 6, so that it is *shown* upright."""
    with Image.open(src) as im:
        stored = im.convert("RGB").transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    dst.parent.mkdir(parents=True, exist_ok=True)
    stored.save(dst, quality=95, exif=exif.tobytes())


@pytest.fixture(scope="module")
def scanned(tmp_path_factory: pytest.TempPathFactory, photos_dir: Path) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("xmp")
    folder = base / "Photos"
    copy_sample(photos_dir, folder, SAMPLE)
    make_rotated(photos_dir / "biden" / "01.jpg", folder / "rotated" / "biden.jpg")
    with Library(base / "lib.db") as lib:
        report = lib.scan([folder], settings=ScanSettings(workers=1))
        assert report.new == len(SAMPLE) + 1 and report.unreadable == 0
    return folder, base / "lib.db"


@pytest.fixture
def lib_copy(scanned: tuple[Path, Path], tmp_path: Path) -> tuple[Path, Library]:
    """This test's own copy of the photos and of the library (unnamed faces), paths pointing at the copy."""
    folder, db = scanned
    shutil.copytree(folder, tmp_path / "Photos")
    backup_database(db, tmp_path / "lib.db")
    lib = Library(tmp_path / "lib.db")
    lib.scan([tmp_path / "Photos"], settings=ScanSettings(workers=1))  # links the copies, no analysis
    lib.store.mark_missing([p for p in lib.store.known_files() if not p.startswith(str(tmp_path))])
    yield tmp_path / "Photos", lib
    lib.close()


def faces_of(lib: Library, path: Path) -> list[tuple[int, tuple[float, float, float, float]]]:
    rows = lib.store.db.execute(
        "SELECT f.id, f.x1, f.y1, f.x2, f.y2 FROM faces f JOIN files fl ON fl.photo_id = f.photo_id"
        " WHERE fl.path = ? ORDER BY f.x1",
        [str(path)],
    ).fetchall()
    return [(int(r[0]), (r[1], r[2], r[3], r[4])) for r in rows]


def name_of(lib: Library, face_id: int) -> str | None:
    pid = lib.face(face_id).person_id
    return lib.person(pid).name if pid is not None else None


def photo_size(lib: Library, path: Path) -> tuple[int, int]:
    row = lib.store.db.execute(
        "SELECT width, height FROM photos JOIN files ON files.photo_id = photos.id WHERE files.path = ?", [str(path)]
    ).fetchone()
    return int(row[0]), int(row[1])


def name_everyone(lib: Library, folder: Path) -> dict[int, str]:
    """Name the faces of the sample: returns face id -> name."""
    (obama,) = faces_of(lib, folder / "obama" / "01.jpg")
    kit_rose = faces_of(lib, folder / SAMPLE[1])  # ordered by x: Kit on the left, Rose on the right
    (biden,) = faces_of(lib, folder / "rotated" / "biden.jpg")
    names = {
        obama[0]: "Barack Obama",
        kit_rose[0][0]: "Kit Harington",
        kit_rose[1][0]: "Rose Leslie",
        biden[0]: "Joe Biden",
    }
    for fid, name in names.items():
        lib.create_person(name, [fid])
    return names


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in folder.rglob("*")
        if p.is_file() and p.suffix.lower() != ".xmp"
    }


@pytest.mark.slow
@needs_exiftool
def test_export_is_read_back_by_exiftool_and_never_touches_photos(lib_copy: tuple[Path, Library]) -> None:
    folder, lib = lib_copy
    name_everyone(lib, folder)
    photos_before = digest(folder)
    # an existing sidecar with other metadata and a region photoclust knows nothing about
    obama = folder / "obama" / "01.jpg"
    w, h = photo_size(lib, obama)
    exiftool(
        "-o",
        f"{obama}.xmp",
        mwg_struct(w, h, [("Rex", "Pet", (0.0, 0.0, 0.1, 0.1))]),
        "-XMP-dc:Subject=inauguration",
        "-XMP-xmp:Rating=5",
    )
    report = lib.export_xmp("digikam")
    assert (report.written, report.unchanged, report.skipped, report.photos) == (3, 0, [], 3)
    assert digest(folder) == photos_before
    assert not (folder / "madonna" / "01.jpg.xmp").exists()  # nobody named there: no sidecar
    for path in (obama, folder / SAMPLE[1], folder / "rotated" / "biden.jpg"):
        info = region_info(Path(f"{path}.xmp"))
        w, h = photo_size(lib, path)
        rotated = "rotated" in str(path)
        dims = info["AppliedToDimensions"]
        assert (dims["W"], dims["H"]) == ((h, w) if rotated else (w, h))  # the stored image's size
        faces = [r for r in info["RegionList"] if r["Type"] == "Face"]
        expected = {name_of(lib, fid): box for fid, box in faces_of(lib, path)}
        assert {r["Name"] for r in faces} == set(expected)
        for r in faces:
            a = r["Area"]
            stored = (a["X"] - a["W"] / 2, a["Y"] - a["H"] / 2, a["X"] + a["W"] / 2, a["Y"] + a["H"] / 2)
            shown = xmp.to_oriented(stored, 6 if rotated else 1)
            assert np.allclose(shown, xmp.normalise(expected[r["Name"]], w, h), atol=2e-6)
    data = json.loads(exiftool("-j", "-struct", "-XMP:all", f"{obama}.xmp"))[0]
    assert data["Subject"] == ["inauguration"] and data["Rating"] == 5
    assert [r["Name"] for r in data["RegionInfo"]["RegionList"]] == ["Rex", "Barack Obama"]
    # a second export finds nothing to change
    again = lib.export_xmp("digikam")
    assert (again.written, again.unchanged) == (0, 3)
    # a sidecar that is not XMP is never overwritten
    broken = folder / "rotated" / "biden.jpg.xmp"
    broken.write_text("<x:xmpmeta> half a file")
    report = lib.export_xmp("digikam")
    assert [p for p, _why in report.skipped] == [str(broken)] and "not valid XMP" in report.skipped[0][1]
    assert broken.read_text() == "<x:xmpmeta> half a file"
    # Lightroom style: photo.xmp, except where another file (a raw) shares the name
    (folder / "obama" / "01.cr2").write_bytes(b"raw")
    lr = lib.export_xmp("lightroom")
    assert lr.written == 2 and [Path(p).name for p, _why in lr.skipped] == ["01.xmp"]
    assert (folder / "rotated" / "biden.xmp").exists() and not (folder / "obama" / "01.xmp").exists()


@pytest.mark.slow
@needs_exiftool
def test_import_of_exiftool_sidecars_names_faces_in_one_undoable_step(lib_copy: tuple[Path, Library]) -> None:
    folder, lib = lib_copy
    group = folder / SAMPLE[1]
    w, h = photo_size(lib, group)
    (kit, kit_box), (rose, rose_box) = faces_of(lib, group)

    def jitter(box: tuple[float, float, float, float], d: float) -> tuple[float, float, float, float]:
        x1, y1, x2, y2 = xmp.normalise(box, w, h)
        bw, bh = x2 - x1, y2 - y1  # a region drawn a little larger and off-centre, as people draw them
        return (x1 - d * bw, y1 - 2 * d * bh, x2 + d * bw, y2 + d * bh)

    exiftool(
        "-o",
        f"{group}.xmp",
        mwg_struct(
            w,
            h,
            [
                ("Kit Harington", "Face", jitter(kit_box, 0.15)),
                ("Rose Leslie", "Face", jitter(rose_box, 0.1)),
                ("Ghost", "Face", (0.9, 0.9, 0.99, 0.99)),
                ("Rex", "Pet", xmp.normalise(kit_box, w, h)),
            ],
        ),
    )
    (obama,) = faces_of(lib, folder / "obama" / "01.jpg")
    ow, oh = photo_size(lib, folder / "obama" / "01.jpg")
    x1, y1, x2, y2 = xmp.normalise(obama[1], ow, oh)
    rect = f"{x1:.5f}|, {y1:.5f}|, {x2 - x1:.5f}|, {y2 - y1:.5f}"
    exiftool(
        "-o",
        folder / "obama" / "01.xmp",
        f"-XMP-MP:RegionInfoMP={{Regions=[{{PersonDisplayName=Barack Obama,Rectangle={rect}}}]}}",
    )
    lib.create_person("Rose Leslie", [])  # an existing person of that name is used, not a new one
    rose_pid = lib.resolve_person("rose leslie")
    history = len(lib.history())
    report = lib.import_xmp([folder])
    assert report.packets >= 2  # the two sidecars, and XMP some sample photos carry without regions
    assert (report.regions, report.matched, report.confirmed) == (4, 3, 3)
    assert report.unmatched == [(str(group), "Ghost")]
    assert sorted(report.created) == ["Barack Obama", "Kit Harington"]
    assert lib.face(rose).person_id == rose_pid and lib.face(rose).confirmed
    assert name_of(lib, kit) == "Kit Harington" and name_of(lib, obama[0]) == "Barack Obama"
    assert len(lib.history()) == history + 1
    # importing again changes nothing; one undo takes the whole import back
    again = lib.import_xmp([folder])
    assert (again.confirmed, again.unchanged, again.operation) == (0, 3, None)
    lib.undo()
    assert lib.face(kit).person_id is None and lib.face(rose).person_id is None and lib.face(obama[0]).person_id is None
    assert [p.name for p in lib.list_people()] == ["Rose Leslie"]


@pytest.mark.slow
@needs_exiftool
def test_round_trip_into_a_fresh_library_restores_every_name(lib_copy: tuple[Path, Library], tmp_path: Path) -> None:
    folder, lib = lib_copy
    # the unnamed library, before anything is named, is the "other machine"
    backup_database(lib.db_path, tmp_path / "fresh.db")
    names = name_everyone(lib, folder)
    db = str(lib.db_path)
    r = CliRunner().invoke(cli, ["export", "--xmp", "--out", "x.csv", "--db", db])
    assert r.exit_code == 2 and "--out does not go with --xmp" in r.output
    r = CliRunner().invoke(cli, ["export", "--xmp", "--db", db])
    assert r.exit_code == 0 and r.output.startswith("XMP sidecars: 3 written"), r.output
    # embedded XMP written by exiftool into a photo that the fresh library then scans
    tagged = folder / "tagged" / "obama.jpg"
    tagged.parent.mkdir()
    ow, oh = photo_size(lib, folder / "obama" / "01.jpg")
    ((_f, obox),) = faces_of(lib, folder / "obama" / "01.jpg")
    exiftool(
        "-o",
        tagged,
        mwg_struct(ow, oh, [("Barack Obama", "Face", xmp.normalise(obox, ow, oh))]),
        folder / "obama" / "01.jpg",
    )
    with Library(tmp_path / "fresh.db") as fresh:
        fresh.scan([tagged], settings=ScanSettings(workers=1))
    r = CliRunner().invoke(cli, ["import-xmp", str(folder), "--json", "--db", str(tmp_path / "fresh.db")])
    assert r.exit_code == 0, r.output
    report = json.loads(r.output)
    assert report["matched"] == 5 and report["unmatched"] == [] and report["conflicts"] == []
    with Library(tmp_path / "fresh.db") as fresh:
        restored = {fid: name_of(fresh, fid) for fid in names}
        assert restored == names
        (tagged_face,) = faces_of(fresh, tagged)
        assert name_of(fresh, tagged_face[0]) == "Barack Obama"
        assert all(fresh.face(fid).confirmed for fid in names)


def detected_library(db: Path, photo: Path, boxes: list[tuple[int, int, int, int]]) -> list[int]:
    """A library holding one photo with these detected faces (no model needed); returns the face ids."""
    from photoclust.store import Store
    from photoclust.types import AnalysedPhoto, DetectedFace, FaceCrop, FaceQuality, FileEntry, PhotoInfo
    from tests.helpers import thumbnail

    with Image.open(photo) as raw:
        img = ImageOps.exif_transpose(raw).convert("RGB")
    crops = []
    for box in boxes:
        face = DetectedFace(tuple(float(v) for v in box), ((0.0, 0.0),) * 5, 0.999)  # type: ignore[arg-type]
        quality = FaceQuality(float(min(box[2] - box[0], box[3] - box[1])), 100.0, 0.0, ())
        crops.append(FaceCrop(face, quality, np.zeros((0,), np.uint8), thumbnail(img, box)))
    stat = photo.stat()
    entry = FileEntry(str(photo), stat.st_size, stat.st_mtime_ns)
    info = PhotoInfo("sha-" + photo.name, img.width, img.height, None, "JPEG")
    vectors = np.eye(len(boxes), 512, dtype=np.float32)
    with Store.open(db) as store:
        store.write_batch([(AnalysedPhoto(entry, info, tuple(crops)), vectors, "test")], [], [])
        return [int(r[0]) for r in store.db.execute("SELECT id FROM faces ORDER BY x1").fetchall()]


def test_import_reads_each_photo_once_when_both_sidecar_styles_exist(tmp_path: Path, photos_dir: Path) -> None:
    # photo.jpg.xmp (digiKam) and photo.xmp (Lightroom) for the same photo, saying the same thing: the
    # report once said "4 named face regions, 4 matched" for its 2 faces
    from tests.helpers import BOXES

    rel = "group/face_recognition_kit_with_rose.jpg"
    photo = tmp_path / "Photos" / "kit_with_rose.jpg"
    photo.parent.mkdir()
    shutil.copy2(photos_dir / rel, photo)
    kit, rose = detected_library(tmp_path / "named.db", photo, BOXES[rel])
    with Library(tmp_path / "named.db") as lib:
        lib.create_person("Kit Harington", [kit])
        lib.create_person("Rose Leslie", [rose])
        assert lib.export_xmp("digikam").written == 1
        assert lib.export_xmp("lightroom").written == 1
    assert photo.with_name(photo.name + ".xmp").is_file() and photo.with_suffix(".xmp").is_file()
    detected_library(tmp_path / "fresh.db", photo, BOXES[rel])
    with Library(tmp_path / "fresh.db") as fresh:
        report = fresh.import_xmp([photo.parent])
        assert report.packets >= 2  # both sidecars are read (and the photo's own XMP, without regions)...
        # ...but each region of the photo counts once
        assert (report.regions, report.matched, report.unmatched, report.conflicts) == (2, 2, [], [])
        assert (report.confirmed, report.unchanged) == (2, 0)
        assert sorted(p.name or "" for p in fresh.list_people()) == ["Kit Harington", "Rose Leslie"]
    r = CliRunner().invoke(cli, ["import-xmp", str(photo.parent), "--db", str(tmp_path / "fresh.db")])
    assert r.exit_code == 0, r.output
    assert "2 named face regions, 2 matched" in r.output and "0 unmatched" in r.output
