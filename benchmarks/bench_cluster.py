"""Speed and quality of photoclust.cluster on synthetic face-like embeddings.

    .venv/bin/python benchmarks/bench_cluster.py                      # 10k, 50k, 100k + assignment
    .venv/bin/python benchmarks/bench_cluster.py --sizes 2000 --related 0.3 --compare

Data (photoclust.cluster.synthetic): identities are random unit centres in 512-d with per-identity noise
(faces of one identity 0.3-0.6 apart in cosine distance, of different identities ~1.0), long-tailed
identity sizes (median 3 faces, a few with ~1000) and 20% singleton "strangers". ``--related`` makes
that fraction of identities relatives of another (faces ~0.75 apart).

Figures per size: seconds; ARI against the truth (noise and strangers as singletons); pairwise
precision (of the face pairs put in one cluster, the share that are one identity) and recall;
noise kept (share of strangers left as noise); members clustered (share of faces of identities with at
least min_cluster_size faces that got a cluster). Assignment: ``--assign`` faces held out of the largest
library are assigned to the people found in it; ms, precision (assigned to the person whose faces are
mostly theirs), recall, strangers assigned.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import replace

import numpy as np
from sklearn.metrics import adjusted_rand_score
from threadpoolctl import threadpool_info

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from stamp import stamp  # noqa: E402

from photoclust.cluster import AssignParams, ClusterParams, assign_to_people, cluster_faces  # noqa: E402
from photoclust.cluster.synthetic import make_faces  # noqa: E402


def _pairs(labels: np.ndarray) -> int:
    counts = np.unique(labels, return_counts=True)[1]
    return int((counts * (counts - 1) // 2).sum())


def quality(truth: np.ndarray, labels: np.ndarray, min_cluster_size: int) -> dict[str, float]:
    n = truth.size
    t = np.where(truth >= 0, truth, n + np.arange(n))
    lab = np.where(labels >= 0, labels, 2 * n + np.arange(n))
    joint = t * (3 * n) + lab
    together, true_pairs, both = _pairs(lab), _pairs(t), _pairs(joint)
    sizes = np.bincount(truth[truth >= 0]) if (truth >= 0).any() else np.zeros(0, np.int64)
    member = (truth >= 0) & (sizes[np.maximum(truth, 0)] >= min_cluster_size) if sizes.size else truth < -1
    strangers = truth < 0
    return {
        "ari": float(adjusted_rand_score(t, lab)),
        "precision": both / together if together else 1.0,
        "recall": both / true_pairs if true_pairs else 1.0,
        "noise_kept": float((labels[strangers] < 0).mean()) if strangers.any() else 1.0,
        "members_clustered": float((labels[member] >= 0).mean()) if member.any() else 1.0,
        "clusters": float(np.unique(labels[labels >= 0]).size),
    }


def _row(name: str, seconds: float, q: dict[str, float]) -> str:
    return (
        f"{name:>24} {seconds:8.2f}s  ARI {q['ari']:.4f}  precision {q['precision']:.4f}  "
        f"recall {q['recall']:.4f}  noise kept {q['noise_kept']:.4f}  "
        f"members clustered {q['members_clustered']:.3f}  clusters {int(q['clusters'])}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 100_000])
    ap.add_argument("--related", type=float, default=0.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--assign", type=int, default=1000, help="faces held out and assigned (0: skip)")
    ap.add_argument("--compare", action="store_true", help="also run the exact paths on each size")
    args = ap.parse_args()
    print(stamp(), flush=True)

    blas = [f"{i.get('internal_api')}:{i.get('num_threads')}" for i in threadpool_info()]
    print(f"cores {os.cpu_count()}, BLAS threads {', '.join(blas)}; related={args.related}")
    params = ClusterParams()
    largest = max(args.sizes)
    for n in args.sizes:
        held = args.assign if n == largest else 0
        d = make_faces(n + held, seed=args.seed, related=args.related)
        rng = np.random.default_rng(args.seed)
        new = np.sort(rng.choice(n + held, held, replace=False)) if held else np.zeros(0, np.int64)
        lib = np.setdiff1d(np.arange(n + held), new)
        X, truth = d.X[lib], d.truth[lib]
        print(f"\n{n} faces: {d.n_identities} identities, {int((truth < 0).sum())} strangers")
        t0 = time.perf_counter()
        labels = cluster_faces(X, params)
        dt = time.perf_counter() - t0
        path = "exact" if n <= params.exact_max_faces else "knn" if n <= params.exact_knn_max_faces else "ivf"
        print(_row(f"cluster_faces [{path}]", dt, quality(truth, labels, params.min_cluster_size)), flush=True)
        if args.compare:
            variants = {
                "exact MST": replace(params, exact_max_faces=n),
                "exact kNN graph": replace(params, exact_max_faces=0, exact_knn_max_faces=n),
                "IVF kNN graph": replace(params, exact_max_faces=0, exact_knn_max_faces=0),
            }
            for name, p in variants.items():
                if name == "exact MST" and n > 20_000:
                    continue  # 8·n² bytes
                t0 = time.perf_counter()
                lab = cluster_faces(X, p)
                print(_row(name, time.perf_counter() - t0, quality(truth, lab, p.min_cluster_size)), flush=True)
            if n <= 20_000:
                # Baseline: the hdbscan package itself on PCA-64 (512-d takes minutes), same sizes.
                import hdbscan
                from sklearn.decomposition import PCA

                t0 = time.perf_counter()
                Z = PCA(64, random_state=0).fit_transform(X)
                lab = hdbscan.HDBSCAN(
                    min_cluster_size=params.min_cluster_size,
                    min_samples=params.min_samples,
                    algorithm="boruvka_kdtree",
                    core_dist_n_jobs=2,
                ).fit_predict(Z)
                q = quality(truth, lab, params.min_cluster_size)
                print(_row("hdbscan PCA-64 boruvka", time.perf_counter() - t0, q), flush=True)
        if held:
            ap_ = AssignParams()
            Q, qt = d.X[new], d.truth[new]
            assign_to_people(Q[:10], X, labels, ap_)  # warm-up (first BLAS call)
            t0 = time.perf_counter()
            out = assign_to_people(Q, X, labels, ap_)
            ms = 1000 * (time.perf_counter() - t0)
            # The identity of a person = the majority truth of its faces.
            owner = {}
            for c in np.unique(labels[labels >= 0]):
                ids, cnt = np.unique(truth[labels == c], return_counts=True)
                owner[int(c)] = int(ids[np.argmax(cnt)])
            got = out >= 0
            right = np.array([owner[int(c)] == int(t) for c, t in zip(out[got], qt[got], strict=True)])
            findable = np.array([int(t) in set(owner.values()) for t in qt]) & (qt >= 0)
            print(
                f"{'assign_to_people':>24} {ms:8.1f}ms for {held} new faces vs {X.shape[0]} known "
                f"({int((labels >= 0).sum())} in {len(owner)} people): precision "
                f"{right.mean() if right.size else 1.0:.4f}, recall {got[findable].mean():.3f} "
                f"(of faces whose person exists), strangers assigned {int(got[qt < 0].sum())}/{int((qt < 0).sum())}"
            )


if __name__ == "__main__":
    main()
