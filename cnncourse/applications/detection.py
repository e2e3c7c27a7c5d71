"""One-stage detection with a grid, the idea of YOLO, on generated scenes.

Redmon, Divvala, Girshick and Farhadi (2016), "You only look once: unified, real-time object
detection" (arXiv:1506.02640): divide the image into an ``S x S`` grid; the cell that holds an
object's centre is responsible for it and predicts, in ONE forward pass of a convolutional
net, whether an object is there (objectness), where its centre is inside the cell, its width
and height, and its class. YOLO v1 predicts two boxes per cell with a fully connected head;
``GridDetector`` predicts one box per cell with a 1x1 convolution, like later YOLOs and SSD.

Output channels per cell (``CHANNELS``): objectness logit, centre x and y (logits of the
offset inside the cell, in [0, 1] after a sigmoid), width and height (logits of the size as
a fraction of the image), then one logit per class.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

DETECTION_CLASSES = ("disk", "square")
BOX_CHANNELS = ("objectness", "x", "y", "w", "h")
Box = tuple[float, float, float, float]  # x0, y0, x1, y1 in pixels


def make_detection_scenes(n: int, size: int = 32, grid: int = 4, max_objects: int = 3,
                          seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, list[list]]:
    """``n`` RGB scenes ``(n, 3, size, size)``, the grid targets ``(n, 5 + classes, grid,
    grid)`` and, per image, the list of ``(box, class)`` drawn. At most one object's centre
    per cell (the grid can only name one) and objects do not overlap."""
    rng = np.random.default_rng(seed)
    cell = size / grid
    coords = np.arange(size) + 0.5
    gy, gx = np.meshgrid(coords, coords, indexing="ij")
    images = np.empty((n, 3, size, size), dtype=np.float32)
    targets = torch.zeros(n, len(BOX_CHANNELS) + len(DETECTION_CLASSES), grid, grid)
    objects: list[list] = []
    for i in range(n):
        images[i] = rng.uniform(0, 1, (3, 1, 1)) + rng.normal(0, 0.06, (3, size, size))
        placed: list[tuple[Box, int]] = []
        count = rng.integers(1, max_objects + 1)
        for _ in range(200):  # rejection sampling of non-overlapping objects
            if len(placed) == count:
                break
            half = rng.uniform(0.08, 0.18) * size
            cx, cy = rng.uniform(half, size - half, 2)
            box = (cx - half, cy - half, cx + half, cy + half)
            col, row = int(cx // cell), int(cy // cell)
            if targets[i, 0, row, col] or any(box_iou(box, b) > 0 or _touch(box, b)
                                              for b, _ in placed):
                continue
            kind = int(rng.integers(len(DETECTION_CLASSES)))
            if kind == 0:
                inside = np.hypot(gx - cx, gy - cy) <= half
            else:
                inside = np.maximum(abs(gx - cx), abs(gy - cy)) <= half
            images[i][:, inside] = rng.uniform(0, 1, (3, 1))
            targets[i, :5, row, col] = torch.tensor(
                [1.0, cx / cell - col, cy / cell - row, 2 * half / size, 2 * half / size])
            targets[i, 5 + kind, row, col] = 1.0
            placed.append((box, kind))
        objects.append(placed)
    return torch.from_numpy(np.clip(images, 0, 1)), targets, objects


def _touch(a: Box, b: Box) -> bool:
    """True if the boxes overlap or are closer than one pixel."""
    return not (a[2] + 1 < b[0] or b[2] + 1 < a[0] or a[3] + 1 < b[1] or b[3] + 1 < a[1])


def box_iou(a: Box, b: Box) -> float:
    """Intersection over union of two boxes ``(x0, y0, x1, y1)``."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class GridDetector(nn.Module):
    """Three stride-2 stages take a 32x32 image to a 4x4 grid; a 1x1 convolution gives
    each cell its ``5 + classes`` numbers."""

    def __init__(self, num_classes: int = len(DETECTION_CLASSES),
                 width: int = 16) -> None:
        super().__init__()
        layers, channels = [], 3
        for out in (width, 2 * width, 4 * width):
            layers += [nn.Conv2d(channels, out, 3, padding=1), nn.BatchNorm2d(out),
                       nn.ReLU(inplace=True),
                       nn.Conv2d(out, out, 3, stride=2, padding=1), nn.BatchNorm2d(out),
                       nn.ReLU(inplace=True)]
            channels = out
        self.backbone = nn.Sequential(*layers)
        self.head = nn.Conv2d(channels, len(BOX_CHANNELS) + num_classes, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))   # (N, 5 + classes, S, S)


def grid_loss(pred: torch.Tensor, target: torch.Tensor, no_object_weight: float = 0.5
              ) -> torch.Tensor:
    """YOLO's sum of errors, as logistic and cross-entropy terms: objectness for every
    cell (empty cells down-weighted, as YOLO's lambda_noobj), box and class only for the
    cells responsible for an object."""
    has_object = target[:, 0]
    weights = has_object + no_object_weight * (1 - has_object)
    objectness = F.binary_cross_entropy_with_logits(pred[:, 0], has_object,
                                                    weight=weights, reduction="sum")
    mask = has_object.bool()
    box = F.binary_cross_entropy_with_logits(pred[:, 1:5].permute(0, 2, 3, 1)[mask],
                                             target[:, 1:5].permute(0, 2, 3, 1)[mask],
                                             reduction="sum")
    classes = F.cross_entropy(pred[:, 5:].permute(0, 2, 3, 1)[mask],
                              target[:, 5:].argmax(1)[mask], reduction="sum")
    return (objectness + box + classes) / pred.shape[0]


def decode(pred: torch.Tensor, size: int, threshold: float = 0.5) -> list[list]:
    """Boxes from the grid output ``(N, 5 + classes, S, S)``: for each image, the list of
    ``(box, class, score)`` of the cells whose objectness probability exceeds ``threshold``.
    (With one box per cell and non-overlapping objects no non-maximum suppression is needed.)"""
    grid = pred.shape[-1]
    cell = size / grid
    p = pred.detach()
    found: list[list] = []
    for image in p:
        boxes = []
        score = image[0].sigmoid()
        for row, col in (score > threshold).nonzero().tolist():
            x, y, w, h = image[1:5, row, col].sigmoid().tolist()
            cx, cy, half_w, half_h = (col + x) * cell, (row + y) * cell, w * size / 2, h * size / 2
            boxes.append(((cx - half_w, cy - half_h, cx + half_w, cy + half_h),
                          int(image[5:, row, col].argmax()), float(score[row, col])))
        found.append(boxes)
    return found


def match_detections(found: list[list], truth: list[list], iou: float = 0.5
                     ) -> tuple[float, float]:
    """``(precision, recall)``: a detection is right if it has the class of a true object it
    overlaps with IoU >= ``iou``, and each true object can be found only once."""
    true_positives = n_found = n_true = 0
    for detections, objects in zip(found, truth, strict=True):
        n_found += len(detections)
        n_true += len(objects)
        unmatched = list(objects)
        for box, kind, _ in sorted(detections, key=lambda d: -d[2]):
            hits = [o for o in unmatched if o[1] == kind and box_iou(box, o[0]) >= iou]
            if hits:
                unmatched.remove(max(hits, key=lambda o: box_iou(box, o[0])))
                true_positives += 1
    return true_positives / max(n_found, 1), true_positives / max(n_true, 1)
