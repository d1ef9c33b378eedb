"""MTCNN's three stages over a batch of equal-size images, faster than facenet-pytorch's ``detect_face``.

The networks, thresholds, box regression and non-maximum suppression are facenet-pytorch's (its helper
functions are called as they are; MIT licence). Two of its steps are done another way, with the same
results to float rounding:

* **Area resampling through a summed-area table.** facenet-pytorch resizes the image for each pyramid level
  and every candidate box for R-Net (24 px) and O-Net (48 px) with ``interpolate(mode="area")``, one
  call per box: on a CPU that was a third of detection (hundreds of calls a photo). Area resampling is
  ``adaptive_avg_pool2d``: each output pixel is the mean of a box of input pixels, with the bins
  ``floor(i * n / m) .. ceil((i + 1) * n / m)``. Here one summed-area table per image gives every such
  mean of every level and every candidate in a few vectorised gathers.
* **P-Net runs channels-last**, where PyTorch's CPU max-pooling is 3x faster than on the default layout
  (the same values).

Boxes come back in the images' pixel coordinates with their probability and five landmarks, as
``facenet_pytorch.MTCNN.detect`` gives them.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from photoclust._torch import import_facenet_pytorch, import_torch


def _bins(start: Any, length: Any, size: int, torch: Any) -> tuple[Any, Any]:
    """adaptive_avg_pool2d's bins: for regions ``start .. start + length`` (tensors of shape (N,)),
    the first and one-past-last input index of each of ``size`` outputs, shape (N, size)."""
    i = torch.arange(size, device=length.device)
    lo = torch.div(i[None, :] * length[:, None], size, rounding_mode="floor")
    hi = torch.div((i[None, :] + 1) * length[:, None] + size - 1, size, rounding_mode="floor")
    return start[:, None] + lo, start[:, None] + hi


def _box_means(table: Any, image: Any, y: tuple[Any, Any], x: tuple[Any, Any]) -> Any:
    """Means of the boxes rows y[0]..y[1] x columns x[0]..x[1] (each (N, size)) of image ``image[n]``,
    from the summed-area ``table`` (B, 3, H+1, W+1): float32 (N, 3, size_y, size_x)."""
    (y0, y1), (x0, x1) = y, x
    n = image[:, None, None]
    a, b, c, d = y0[:, :, None], y1[:, :, None], x0[:, None, :], x1[:, None, :]
    total = table[n, :, b, d] - table[n, :, a, d] - table[n, :, b, c] + table[n, :, a, c]  # (N, sy, sx, 3)
    area = ((b - a) * (d - c)).unsqueeze(-1)
    return (total.double() / area).permute(0, 3, 1, 2).float()


def summed_area(images: Any) -> Any:
    """(B, 3, H, W) uint8 -> (B, 3, H+1, W+1) int64 summed-area table (exact; integer sums are 3x
    faster to build than float64 ones)."""
    torch = import_torch()
    b, c, h, w = images.shape
    table = torch.zeros((b, c, h + 1, w + 1), dtype=torch.int64, device=images.device)
    table[:, :, 1:, 1:] = images.cumsum(2, dtype=torch.int64).cumsum(3)
    return table


def resize_area(table: Any, size: tuple[int, int]) -> Any:
    """Every image of ``table`` resized to ``size`` (h, w) as ``interpolate(mode="area")`` does."""
    torch = import_torch()
    n, _, h1, w1 = table.shape
    dev = table.device
    ys = _bins(torch.zeros(n, dtype=torch.long, device=dev), torch.full((n,), h1 - 1, device=dev), size[0], torch)
    xs = _bins(torch.zeros(n, dtype=torch.long, device=dev), torch.full((n,), w1 - 1, device=dev), size[1], torch)
    return _box_means(table, torch.arange(n, device=dev), ys, xs)


def crop_area(table: Any, image: Any, y: Any, ey: Any, x: Any, ex: Any, size: int) -> Any:
    """The regions rows ``y-1 .. ey``, columns ``x-1 .. ex`` (facenet-pytorch's 1-based ``pad`` output)
    of image ``image[k]``, each resized to ``size`` x ``size`` by area: (N, 3, size, size)."""
    torch = import_torch()
    dev = table.device
    y0 = torch.as_tensor(y, dtype=torch.long, device=dev) - 1
    x0 = torch.as_tensor(x, dtype=torch.long, device=dev) - 1
    hy = torch.as_tensor(ey, dtype=torch.long, device=dev) - y0
    wx = torch.as_tensor(ex, dtype=torch.long, device=dev) - x0
    idx = torch.as_tensor(image, dtype=torch.long, device=dev)
    return _box_means(table, idx, _bins(y0, hy, size, torch), _bins(x0, wx, size, torch))


def _stage(net: Any, size: int, boxes: Any, image_inds: Any, table: Any, w: int, h: int) -> tuple[Any, Any, Any]:
    """R-Net or O-Net (``net``, input ``size`` px) on the candidate ``boxes``: the boxes and image indices
    that lie in their image, and the network's outputs for them."""
    torch = import_torch()
    from facenet_pytorch.models.utils import detect_face as fp

    y, ey, x, ex = fp.pad(boxes, w, h)
    ok = np.asarray((ey > y - 1) & (ex > x - 1))
    keep = torch.as_tensor(ok, device=boxes.device)
    crops = crop_area(table, image_inds[keep], y[ok], ey[ok], x[ok], ex[ok], size)
    return boxes[keep], image_inds[keep], fp.fixed_batch_process((crops - 127.5) * 0.0078125, net)


def detect_faces(images: list[Any], minsize: float, model: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    """MTCNN on equal-size RGB images (PIL or HxWx3 uint8): per image, ``(boxes, points)`` with boxes
    (K, 5) = x1, y1, x2, y2, probability and points (K, 5, 2). ``model``: a facenet-pytorch ``MTCNN``
    (its networks, ``thresholds``, ``factor`` and ``device``)."""
    torch = import_torch()
    import_facenet_pytorch()
    from facenet_pytorch.models.utils import detect_face as fp

    device = model.device
    thresholds, factor = model.thresholds, model.factor
    arr = np.stack([np.asarray(im, dtype=np.uint8) for im in images])
    imgs = torch.as_tensor(arr, device=device).permute(0, 3, 1, 2)
    batch, h, w = imgs.shape[0], imgs.shape[2], imgs.shape[3]
    table = summed_area(imgs)

    scale = 12.0 / minsize
    minl = min(h, w) * scale
    scales = []
    while minl >= 12:
        scales.append(scale)
        scale *= factor
        minl *= factor

    boxes_l, inds_l, picks_l = [], [], []
    offset = 0
    for s in scales:
        level = resize_area(table, (int(h * s + 1), int(w * s + 1)))
        level = ((level - 127.5) * 0.0078125).contiguous(memory_format=torch.channels_last)
        reg, probs = model.pnet(level)
        b, ind = fp.generateBoundingBox(reg, probs[:, 1], s, thresholds[0])
        boxes_l.append(b)
        inds_l.append(ind)
        picks_l.append(fp.batched_nms(b[:, :4], b[:, 4], ind, 0.5) + offset)
        offset += b.shape[0]
    empty = [(np.zeros((0, 5), np.float32), np.zeros((0, 5, 2), np.float32)) for _ in range(batch)]
    if not boxes_l:
        return empty
    picks = torch.cat(picks_l)
    boxes, image_inds = torch.cat(boxes_l)[picks], torch.cat(inds_l)[picks]
    pick = fp.batched_nms(boxes[:, :4], boxes[:, 4], image_inds, 0.7)
    boxes, image_inds = boxes[pick], image_inds[pick]
    if len(boxes) == 0:
        return empty
    regw, regh = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    boxes = torch.stack(
        [
            boxes[:, 0] + boxes[:, 5] * regw,
            boxes[:, 1] + boxes[:, 6] * regh,
            boxes[:, 2] + boxes[:, 7] * regw,
            boxes[:, 3] + boxes[:, 8] * regh,
            boxes[:, 4],
        ]
    ).permute(1, 0)
    boxes = fp.rerec(boxes)

    # R-Net
    boxes, image_inds, out = _stage(model.rnet, 24, boxes, image_inds, table, w, h)
    score = out[1][:, 1]
    keep = score > thresholds[1]
    boxes = torch.cat((boxes[keep, :4], score[keep].unsqueeze(1)), dim=1)
    image_inds, mv = image_inds[keep], out[0][keep]
    pick = fp.batched_nms(boxes[:, :4], boxes[:, 4], image_inds, 0.7)
    boxes, image_inds, mv = boxes[pick], image_inds[pick], mv[pick]
    if len(boxes) == 0:
        return empty
    boxes = fp.rerec(fp.bbreg(boxes, mv))

    # O-Net
    boxes, image_inds, out = _stage(model.onet, 48, boxes, image_inds, table, w, h)
    score = out[2][:, 1]
    keep = score > thresholds[2]
    points = out[1][keep].permute(1, 0)
    boxes = torch.cat((boxes[keep, :4], score[keep].unsqueeze(1)), dim=1)
    image_inds, mv = image_inds[keep], out[0][keep]
    w_i = boxes[:, 2] - boxes[:, 0] + 1
    h_i = boxes[:, 3] - boxes[:, 1] + 1
    px = w_i.repeat(5, 1) * points[:5, :] + boxes[:, 0].repeat(5, 1) - 1
    py = h_i.repeat(5, 1) * points[5:10, :] + boxes[:, 1].repeat(5, 1) - 1
    points = torch.stack((px, py)).permute(2, 1, 0)
    boxes = fp.bbreg(boxes, mv)
    pick = fp.batched_nms_numpy(boxes[:, :4], boxes[:, 4], image_inds, 0.7, "Min")
    boxes_np, points_np = boxes[pick].cpu().numpy(), points[pick].cpu().numpy()
    inds_np = image_inds[pick].cpu().numpy()
    return [(boxes_np[inds_np == i], points_np[inds_np == i]) for i in range(batch)]
