""" "Same person?" suggestions and "different people" decisions, on a real SQLite file (synthetic embeddings)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from photoclust import cli
from photoclust.errors import ConstraintError
from photoclust.library import Library
from photoclust.people import merge_suggestions, recluster
from photoclust.store import Store
from tests.helpers import write_faces


@pytest.fixture
def split_person(tmp_path: Path) -> Path:
    """A library where one person's photos form two groups too far apart to merge automatically but close
    enough to be suggested (say, with and without glasses), and two unrelated people."""
    rng = np.random.default_rng(3)
    c = rng.normal(size=(4, 512))
    c /= np.linalg.norm(c, axis=1, keepdims=True)
    o = c[1] - (c[1] @ c[0]) * c[0]
    c[1] = 0.62 * c[0] + np.sqrt(1 - 0.62**2) * o / np.linalg.norm(o)  # the same person, looking different
    who = [0] * 5 + [1] * 5 + [2] * 5 + [3] * 5
    db = tmp_path / "lib.db"
    store = Store.open(db)
    write_faces(store, np.array([c[i] + rng.normal(scale=0.02, size=512) for i in who]), 0)
    store.close()
    return db


def test_a_split_person_is_suggested_and_accepting_merges(split_person: Path) -> None:
    with Library(split_person) as lib:
        lib.cluster()
        people = {p.id: {f.path for f in lib.faces(p.id)} for p in lib.list_people()}
        assert len(people) == 4  # the precondition: clustering did not merge the two looks by itself
        pairs = lib.merge_suggestions()
        assert len(pairs) == 1
        s = pairs[0]
        paths = people[s.a.id] | people[s.b.id]
        assert paths == {f"/p/{k}.jpg" for k in range(10)}  # exactly the two looks of person 0
        assert 0.0 < s.score <= 1.0
        lib.merge([s.b.id], s.a.id)
        assert lib.merge_suggestions() == []
        assert len(lib.list_people()) == 3
        lib.undo()
        assert len(lib.merge_suggestions()) == 1


def test_declined_pair_is_remembered_undoable_and_kept_apart(split_person: Path) -> None:
    with Library(split_person) as lib:
        lib.cluster()
        s = lib.merge_suggestions()[0]
        lib.declare_different(s.a.id, s.b.id)
        assert lib.merge_suggestions() == []
        assert lib.history(1)[0].kind == "different"
        # a re-clustering from scratch keeps the two people apart, and the decision stays
        lib.cluster(full=True)
        assert lib.merge_suggestions() == []
        ids = {p.id for p in lib.list_people()}
        assert {s.a.id, s.b.id} <= ids
        while lib.undo().kind != "different":  # the full re-clustering (if it changed anything), the decision
            pass
        assert [(x.a.id, x.b.id) for x in lib.merge_suggestions()] == [(s.a.id, s.b.id)]
        lib.redo()
        assert lib.merge_suggestions() == []
        with pytest.raises(ConstraintError):
            lib.declare_different(s.a.id, s.a.id)


def test_declining_survives_merging_one_of_the_two(split_person: Path) -> None:
    with Library(split_person) as lib:
        lib.cluster()
        s = lib.merge_suggestions()[0]
        lib.declare_different(s.a.id, s.b.id)
        other = next(p.id for p in lib.list_people() if p.id not in (s.a.id, s.b.id))
        lib.merge([s.a.id], other)  # what was said of a now holds for the merged person
        assert lib.people.different_pairs() == {tuple(sorted((other, s.b.id)))}


def test_people_in_one_photo_or_with_different_names_are_never_suggested(split_person: Path) -> None:
    with Library(split_person) as lib:
        lib.cluster()
        s = lib.merge_suggestions()[0]
        lib.name(s.a.id, "Ann")
        lib.name(s.b.id, "Bea")
        assert merge_suggestions(lib.people) == []
        lib.name(s.b.id, "Ann ", allow_duplicate=True)  # the same name, given twice: probably one person
        assert len(merge_suggestions(lib.people)) == 1


def test_cli_suggest_and_different(split_person: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli.cli, ["cluster", "--db", str(split_person)]).exit_code == 0
    out = runner.invoke(cli.cli, ["suggest", "--json", "--db", str(split_person)])
    assert out.exit_code == 0, out.output
    import json

    rows = json.loads(out.output)
    assert len(rows) == 1 and rows[0]["a"]["faces"] == 5 and rows[0]["b"]["faces"] == 5
    a, b = rows[0]["a"]["id"], rows[0]["b"]["id"]
    text = runner.invoke(cli.cli, ["suggest", "--db", str(split_person)]).output
    assert f"merge {b} --into {a}" in text
    done = runner.invoke(cli.cli, ["different", str(a), str(b), "--db", str(split_person)])
    assert done.exit_code == 0 and "different people" in done.output
    assert "No suggestions" in runner.invoke(cli.cli, ["suggest", "--db", str(split_person)]).output
    bad = runner.invoke(cli.cli, ["different", str(a), "999", "--db", str(split_person)])
    assert bad.exit_code != 0 and bad.output.count("\n") == 1


def test_recluster_report_counts(split_person: Path) -> None:
    store = Store.open(split_person)
    try:
        from photoclust.people import People

        report = recluster(People(store))
        assert report.new_people == 4 and report.unknown == 0
    finally:
        store.close()


@pytest.mark.slow
def test_a_black_and_white_copy_is_the_same_person(photos_dir: Path, tmp_path: Path) -> None:
    """Old prints scanned in black and white: the copy of a colour photo lands in the same person, and
    black-and-white copies of *different* people do not form a person together."""
    from PIL import Image

    from photoclust.config import ScanSettings

    folder = tmp_path / "photos"
    folder.mkdir()
    people = ["obama", "madonna", "mindy_kaling"]
    for who in people:
        for src in sorted((photos_dir / who).glob("*.jpg"))[:3]:
            img = Image.open(src).convert("RGB")
            img.save(folder / f"{who}-{src.stem}.jpg", quality=92)
            img.convert("L").save(folder / f"{who}-{src.stem}-bw.jpg", quality=92)
    with Library(tmp_path / "lib.db") as lib:
        lib.scan([folder], settings=ScanSettings(workers=1))
        lib.cluster()
        person_of: dict[str, int | None] = {}
        for f in lib.faces(None):
            person_of[Path(f.path).name] = None
        for p in lib.list_people():
            for f in lib.faces(p.id):
                person_of[Path(f.path).name] = p.id
        for name, pid in person_of.items():
            if name.endswith("-bw.jpg"):
                colour = person_of.get(name.replace("-bw.jpg", ".jpg"))
                assert pid is not None and pid == colour, name
        # every person holds one identity only
        for p in lib.list_people():
            assert len({Path(f.path).name.split("-")[0] for f in lib.faces(p.id)}) == 1


@pytest.mark.slow
def test_a_second_cluster_run_changes_nothing(photos_dir: Path, tmp_path: Path) -> None:
    """Clustering twice in a row is clustering once: a weak face that joins a new person relaxes that
    person's bar, and the other leftovers get their second look in the same run, not in the next."""
    from photoclust.config import ScanSettings

    with Library(tmp_path / "lib.db") as lib:
        lib.scan([photos_dir], settings=ScanSettings(workers=1))
        first = lib.cluster()
        assert first.new_people >= 8
        again = lib.cluster()
        assert again.changed == 0 and again.new_people == 0
        assert again.skipped == first.skipped
