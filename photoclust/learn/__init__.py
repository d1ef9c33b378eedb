"""Learning from the user's decisions: a small head on the frozen FaceNet embedding (the FaceNet recipe,
on the user's own people).

FaceNet learns an embedding in which faces of one person are close and faces of different people far,
with a triplet loss (anchor, positive of the same person, negative of another; margin 0.2) over
semi-hard negatives. The network here was trained once, on celebrities; the head learns, on top of it,
from what this user confirmed:

* :class:`Head` (``head.py``, numpy only, so clustering and the UI never need torch): ``x -> normalise(x
  + x W^T)``, a residual linear map that starts at the identity (W = 0) and so starts with the base
  geometry, the one every threshold was calibrated on.
* :func:`train` (``train.py``, torch, loaded lazily): triplet loss with semi-hard mining over the
  confirmed faces of named people, batches of P people x K faces; negatives also from "not this person"
  rejections and from faces sharing a photo (never one person); a *preservation* term keeps the cosine
  similarities of faces nobody named as they were, so the still-unknown people do not get worse.
* :func:`validate` (``train.py``): k-fold on the user's confirmed faces: a third of each person's
  confirmed faces is held out, a head trained on the rest, and the automatic assignment of the held-out
  faces scored with and without it. The head is used only when it raises recall at equal or better
  precision (the gate).
"""

from __future__ import annotations

from photoclust.learn.head import Head, TrainingSet, Validation

__all__ = ["Head", "TrainingSet", "Validation"]
