"""512-d embeddings or a 128-d PCA projection? Grouping quality of both on the same scan.

    .venv/bin/python benchmarks/eval_dim.py LABELLED_SET --db SCANNED.db --ref-db OTHER.db [--dim 128]

``--db`` is a database that scanned LABELLED_SET (see eval_people.py); ``--ref-db`` one that scanned
*other* photos, on which the PCA is fitted (so the evaluation set never shapes its own projection).
Prints eval_people's figures for the 512-d embeddings and for the projected, re-normalised ones.
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from eval_people import evaluate, read_labels, report  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from stamp import stamp  # noqa: E402

from photoclust.library import Library  # noqa: E402
from photoclust.store import backup_database, blobs_to_matrix, vector_to_blob  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("path", type=Path)
    ap.add_argument("--db", type=Path, required=True)
    ap.add_argument("--ref-db", type=Path, required=True)
    ap.add_argument("--dim", type=int, default=128)
    args = ap.parse_args()
    print(stamp(), flush=True)
    truth = read_labels(args.path.resolve())
    ref = blobs_to_matrix(r[0] for r in sqlite3.connect(args.ref_db).execute("SELECT embedding FROM faces"))
    pca = PCA(n_components=min(args.dim, ref.shape[0]), random_state=0).fit(ref)
    print(f"PCA to {pca.n_components_}-d fitted on {ref.shape[0]} faces of {args.ref_db.name}")
    with tempfile.TemporaryDirectory() as tmp:
        for label in ("512-d", f"{pca.n_components_}-d"):
            db = Path(tmp) / f"{label}.db"
            backup_database(args.db, db)
            if label != "512-d":
                conn = sqlite3.connect(db)
                rows = conn.execute("SELECT id, embedding FROM faces").fetchall()
                Y = pca.transform(blobs_to_matrix(r[1] for r in rows))
                Y /= np.linalg.norm(Y, axis=1, keepdims=True)
                conn.executemany(
                    "UPDATE faces SET embedding = ? WHERE id = ?",
                    [(vector_to_blob(y), r[0]) for r, y in zip(rows, Y, strict=True)],
                )
                conn.commit()
                conn.close()
            with Library(db) as lib:
                lib.store.db.execute("DELETE FROM ops")
                lib.store.db.execute("UPDATE faces SET person_id = NULL, confirmed = 0")
                lib.store.db.execute("DELETE FROM people")
                lib.cluster()
                report(label, evaluate(lib, truth))


if __name__ == "__main__":
    main()
