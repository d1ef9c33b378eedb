"""The learned head as data: applying it needs numpy only (clustering, suggestions and the UI never load
torch for it)."""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass, field

import numpy as np

HEAD_VERSION = "residual-linear-1"


@dataclass(frozen=True)
class Validation:
    """Held-out automatic assignment of the user's confirmed faces, without and with the head."""

    folds: int
    faces: int  # held-out faces scored, all folds together
    precision_base: float
    recall_base: float
    precision_head: float
    recall_head: float

    @property
    def helps(self) -> bool:
        """The gate: more faces assigned, and no more of them wrong (precision as good or better)."""
        return self.recall_head > self.recall_base and self.precision_head >= self.precision_base

    def describe(self) -> str:
        return (
            f"held-out assignment of your confirmed faces ({self.faces} faces, {self.folds}-fold): "
            f"recall {self.recall_base:.3f} -> {self.recall_head:.3f}, "
            f"precision {self.precision_base:.3f} -> {self.precision_head:.3f}"
        )


@dataclass(frozen=True)
class TrainingSet:
    """What a head learned from, and how it did."""

    faces: int  # confirmed faces of named people
    people: int
    weak_faces: int  # unconfirmed faces of named people (weaker positives)
    negatives: int  # rejections and same-photo pairs used as negatives
    seconds: float = 0.0
    validation: Validation | None = None


@dataclass(frozen=True)
class Head:
    """``x -> normalise(x + x W^T)`` on 512-d unit embeddings."""

    W: np.ndarray = field(repr=False)  # float32 (d, d)
    model_version: str  # the embedding model it was trained on: a head never applies to another
    training: TrainingSet
    version: str = HEAD_VERSION

    def apply(self, X: np.ndarray) -> np.ndarray:
        """Rows mapped through the head, unit length again (float32)."""
        X = np.asarray(X, dtype=np.float32)
        if not X.size:
            return X.reshape(0, self.W.shape[0])
        Y = X + X @ self.W.T
        return np.asarray(Y / np.maximum(np.linalg.norm(Y, axis=1, keepdims=True), 1e-12), dtype=np.float32)

    def weights_blob(self) -> bytes:
        buf = io.BytesIO()
        np.save(buf, self.W.astype(np.float32), allow_pickle=False)
        return buf.getvalue()

    def report_json(self) -> str:
        return json.dumps(asdict(self.training))

    @classmethod
    def from_stored(cls, weights: bytes, model_version: str, report: str, version: str) -> Head:
        W = np.load(io.BytesIO(weights), allow_pickle=False)
        data = json.loads(report)
        val = data.pop("validation", None)
        training = TrainingSet(**data, validation=Validation(**val) if val else None)
        return cls(W.astype(np.float32), model_version, training, version)
