"""Property tests: no sequence of edits and re-clusterings breaks a user decision, and undo is exact.

Faces have synthetic embeddings drawn around a few identity centres (so clustering forms people), in a
real SQLite file, through the real clustering core.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from photoclust.errors import PhotoclustError
from photoclust.people import People, recluster
from photoclust.store import Store
from tests.helpers import snapshot, write_faces, write_photos


def build(store: Store, seed: int) -> None:
    """24 photos of 4 synthetic people, one or two faces each."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(4, 512))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    photos = []
    for i in range(24):
        n = 2 if i % 5 == 0 else 1
        who = rng.choice(4, size=n, replace=False)
        photos.append(centres[who] + rng.normal(scale=0.025, size=(n, 512)))
    write_photos(store, photos, 0)


def decisions(store: Store) -> dict[str, Any]:
    q = store.db.execute
    return {
        "confirmed": dict(q("SELECT id, person_id FROM faces WHERE confirmed = 1").fetchall()),
        "named": dict(q("SELECT id, name FROM people WHERE name IS NOT NULL").fetchall()),
        "hidden": {r[0] for r in q("SELECT id FROM people WHERE hidden = 1").fetchall()},
        "not_face": {r[0] for r in q("SELECT id FROM faces WHERE not_face = 1").fetchall()},
        "rejections": set(q("SELECT face_id, person_id FROM rejections").fetchall()),
    }


def check_invariants(store: Store) -> None:
    q = store.db.execute
    # two faces of one photo are never the same person
    assert (
        q(
            "SELECT count(*) FROM (SELECT person_id, photo_id FROM faces WHERE person_id IS NOT NULL"
            " GROUP BY person_id, photo_id HAVING count(*) > 1)"
        ).fetchone()[0]
        == 0
    )
    # a removed face never sits in the person it was removed from
    assert (
        q(
            "SELECT count(*) FROM rejections r JOIN faces f ON f.id = r.face_id AND f.person_id = r.person_id"
        ).fetchone()[0]
        == 0
    )
    # "not a face" never appears in a person
    assert q("SELECT count(*) FROM faces WHERE not_face = 1 AND person_id IS NOT NULL").fetchone()[0] == 0
    # every face points at an existing person
    assert (
        q(
            "SELECT count(*) FROM faces WHERE person_id IS NOT NULL AND person_id NOT IN (SELECT id FROM people)"
        ).fetchone()[0]
        == 0
    )


OPS = [
    "cluster",
    "cluster_full",
    "name",
    "merge",
    "split",
    "move",
    "remove",
    "confirm",
    "hide",
    "not_a_face",
    "cover",
    "undo",
    "redo",
]


def do(people: People, op: str, data: st.DataObject) -> None:
    store = people.store
    persons = [r[0] for r in store.db.execute("SELECT id FROM people ORDER BY id")]
    faces = [r[0] for r in store.db.execute("SELECT id FROM faces ORDER BY id")]
    pick_faces = data.draw(st.lists(st.sampled_from(faces), min_size=1, max_size=3, unique=True), label="faces")
    if op == "cluster":
        recluster(people)
    elif op == "cluster_full":
        recluster(people, full=True)
    elif op == "undo":
        people.undo()
    elif op == "redo":
        people.redo()
    elif op in ("split",):
        people.split(pick_faces)
    elif op == "remove":
        people.remove(pick_faces)
    elif op == "confirm":
        people.confirm(pick_faces)
    elif op == "not_a_face":
        people.not_a_face(pick_faces[:1])
    elif not persons:
        return
    else:
        pid = data.draw(st.sampled_from(persons), label="person")
        if op == "name":
            people.name(pid, data.draw(st.sampled_from(["Ann", "Bob", "Cy"]), label="name"))
        elif op == "merge":
            people.merge([data.draw(st.sampled_from(persons), label="source")], into=pid)
        elif op == "move":
            people.move(pick_faces, pid)
        elif op == "hide":
            people.set_hidden(pid, data.draw(st.booleans(), label="hidden"))
        elif op == "cover":
            people.set_cover(pid, pick_faces[0])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 3), ops=st.lists(st.sampled_from(OPS), min_size=1, max_size=12), data=st.data())
def test_no_edit_sequence_breaks_a_decision_and_undo_is_exact(seed: int, ops: list[str], data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = Store.open(Path(tmp) / "lib.db")
        try:
            build(store, seed)
            people = People(store)
            for op in ops:
                before = snapshot(store)
                kept = decisions(store)
                n_ops = store.db.execute("SELECT count(*) FROM ops WHERE undone = 0").fetchone()[0]
                try:
                    do(people, op, data)
                except PhotoclustError:
                    # a refused edit changes nothing
                    assert snapshot(store) == before
                    continue
                check_invariants(store)
                if op.startswith("cluster"):
                    after = decisions(store)
                    assert after == kept, "clustering changed a user decision"
                if op not in ("undo", "redo"):
                    done = store.db.execute("SELECT count(*) FROM ops WHERE undone = 0").fetchone()[0]
                    if done > n_ops:
                        people.undo()
                        assert snapshot(store) == before, f"undo of {op} is not exact"
                        people.redo()
                        check_invariants(store)
        finally:
            store.close()


def test_clustering_finds_the_synthetic_people(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "lib.db")
    build(store, 0)
    people = People(store)
    report = recluster(people)
    assert report.new_people == 4
    assert report.unknown == 0
    # running it again changes nothing
    assert recluster(people).changed == 0
    store.close()


def test_unknown_groups_suggest_the_close_person_but_never_a_rejected_one(tmp_path: Path) -> None:
    from photoclust.people import unknown_groups

    store = Store.open(tmp_path / "lib.db")
    build(store, 1)
    people = People(store)
    recluster(people)
    pid = people.all()[0].id
    faces = [f.id for f in people.faces(pid)]
    people.remove(faces[:2])  # "not this person": these must never be suggested for pid
    # two unknown faces that are simply unassigned (no rejection) are suggested for their person
    store.db.execute("UPDATE faces SET person_id = NULL WHERE id IN (?, ?)", faces[2:4])
    groups = unknown_groups(people)
    by_face = {f.id: sug for members, sug in groups for f in members}
    assert by_face[faces[0]] is None or by_face[faces[0]].id != pid
    assert by_face[faces[1]] is None or by_face[faces[1]].id != pid
    assert by_face[faces[2]] is not None and by_face[faces[2]].id == pid
    # groups hold similar faces: the rejected pair and the unassigned pair are each together
    assert any({faces[2], faces[3]} <= {f.id for f in members} for members, _ in groups)
    store.close()


def test_unknown_faces_are_grouped_by_person(tmp_path: Path) -> None:
    """The Unknown view's groups are the synthetic people (average linkage over the unknown faces)."""
    from photoclust.people import unknown_groups

    store = Store.open(tmp_path / "lib.db")
    build(store, 2)
    people = People(store)
    groups = {frozenset(f.id for f in g) for g, _ in unknown_groups(people)}
    assert len(groups) == 4  # the four synthetic people
    store.close()


def _add(store: Store, centres: np.ndarray, who: list[int], start: int, rng: np.random.Generator) -> None:
    write_faces(store, np.array([centres[i] + rng.normal(scale=0.025, size=512) for i in who]), start)


@pytest.mark.parametrize("local", [False, True])
def test_incremental_clustering_of_a_large_unknown_pile_looks_near_the_new_faces(
    local: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import photoclust.people.clustering as people_mod

    if local:
        monkeypatch.setattr(people_mod, "LOCAL_CLUSTER_MIN", 0)
    rng = np.random.default_rng(5)
    centres = rng.normal(size=(7, 512))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    store = Store.open(tmp_path / "lib.db")
    people = People(store)
    # people 0-3 with 4 faces each; 4 and 6 with only 1 face: too few to be a person yet
    first_faces = [0, 1, 2, 3] * 4 + [4, 6]
    _add(store, centres, first_faces, 0, rng)
    first = recluster(people)
    assert first.new_people == 4 and first.unknown == 2
    # a second face of person 4 arrives, and three faces of a new person 5
    _add(store, centres, [4, 5, 5, 5], 100, rng)
    recluster(people)
    groups = sorted(sorted(f.path for f in people.faces(p.id)) for p in people.all())
    paths_of = {i: sorted(f"/p/{k}.jpg" for k, w in enumerate(first_faces) if w == i) for i in range(7)}
    assert sorted(paths_of[4] + ["/p/100.jpg"]) in groups  # an old unknown face next to a new one: a person now
    assert ["/p/101.jpg", "/p/102.jpg", "/p/103.jpg"] in groups
    assert sorted(f.path for f in people.faces(None)) == paths_of[6]  # far from every new face: still unknown
    store.close()
