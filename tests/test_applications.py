"""The three application demos: data generators say what they draw, models have the right
shapes, metrics and decoders agree with hand-made cases."""

import math

import pytest
import torch

from cnncourse.applications.detection import (
    BOX_CHANNELS,
    DETECTION_CLASSES,
    GridDetector,
    box_iou,
    decode,
    grid_loss,
    make_detection_scenes,
    match_detections,
)
from cnncourse.applications.dna import (
    ALPHABET,
    MotifNet,
    consensus,
    make_motif_data,
    one_hot,
    strongest_window,
)
from cnncourse.applications.segmentation import (
    SCENE_CLASSES,
    TinyFCN,
    make_scenes,
    mean_iou,
    pixel_accuracy,
)


# ------------------------------------------------------------------------- segmentation
def test_scenes_are_deterministic_and_objects_are_flat_coloured():
    images, masks = make_scenes(6, size=24, seed=3)
    assert images.shape == (6, 3, 24, 24) and masks.shape == (6, 24, 24)
    assert images.min() >= 0 and images.max() <= 1
    assert set(masks.unique().tolist()) <= set(range(len(SCENE_CLASSES)))
    assert (masks > 0).flatten(1).any(1).all()  # every scene has an object
    again, again_masks = make_scenes(6, size=24, seed=3)
    assert torch.equal(images, again) and torch.equal(masks, again_masks)
    assert not torch.equal(make_scenes(6, size=24, seed=4)[1], masks)
    for image, mask in zip(images, masks, strict=True):
        # 1 to 3 objects, each of one flat colour; the background is noisy
        assert 1 <= len(image[:, mask > 0].T.unique(dim=0)) <= 3
        assert len(image[:, mask == 0].T.unique(dim=0)) > 3


@pytest.mark.parametrize("size", [16, 24])
def test_fcn_gives_one_score_per_class_and_pixel(size):
    torch.manual_seed(0)
    out = TinyFCN(width=4)(torch.rand(2, 3, size, size))
    assert out.shape == (2, len(SCENE_CLASSES), size, size)


def test_pixel_accuracy_and_mean_iou_on_a_hand_made_case():
    masks = torch.tensor([[[0, 0], [1, 1]]])
    predicted = torch.tensor([[[0, 1], [1, 1]]])
    logits = torch.nn.functional.one_hot(predicted, 3).permute(0, 3, 1, 2).float()
    assert pixel_accuracy(logits, masks) == pytest.approx(0.75)
    # background: 1 / 2, class 1: 2 / 3, class 2 absent from both and skipped
    assert mean_iou(logits, masks, 3) == pytest.approx((1 / 2 + 2 / 3) / 2)


# ---------------------------------------------------------------------------- detection
def _logit(p):
    p = p.clamp(1e-4, 1 - 1e-4)
    return torch.log(p / (1 - p))


def test_box_iou_known_values():
    assert box_iou((0, 0, 2, 2), (0, 0, 2, 2)) == pytest.approx(1.0)
    assert box_iou((0, 0, 2, 2), (1, 0, 3, 2)) == pytest.approx(2 / 6)
    assert box_iou((0, 0, 1, 1), (2, 2, 3, 3)) == 0.0


def test_targets_mark_the_cell_of_each_centre_and_decode_back_to_the_boxes():
    images, targets, objects = make_detection_scenes(20, size=32, grid=4, seed=1)
    assert images.shape == (20, 3, 32, 32)
    assert targets.shape == (20, len(BOX_CHANNELS) + len(DETECTION_CLASSES), 4, 4)
    counts = targets[:, 0].flatten(1).sum(1)
    assert counts.tolist() == [len(o) for o in objects]
    assert 1 <= counts.min() and counts.max() <= 3
    for cells, drawn in zip(targets, objects, strict=True):
        for (x0, y0, x1, y1), kind in drawn:
            row, col = int((y0 + y1) / 2 // 8), int((x0 + x1) / 2 // 8)
            assert cells[0, row, col] == 1 and cells[5 + kind, row, col] == 1
    perfect = torch.cat([_logit(targets[:, :5]), 10 * targets[:, 5:]], 1)
    found = decode(perfect, size=32)
    for boxes, drawn in zip(found, objects, strict=True):
        assert len(boxes) == len(drawn)
        for (box, kind, score), (true_box, true_kind) in zip(
                sorted(boxes), sorted(drawn), strict=True):
            assert kind == true_kind and score > 0.99
            assert box_iou(box, true_box) > 0.99
    assert match_detections(found, objects) == pytest.approx((1.0, 1.0))


def test_match_detections_counts_wrong_class_and_duplicates_as_false_positives():
    truth = [[((0, 0, 4, 4), 0)]]
    found = [[((0, 0, 4, 4), 0, 0.9), ((0, 0, 4, 4), 0, 0.8), ((0, 0, 4, 4), 1, 0.7)]]
    assert match_detections(found, truth) == pytest.approx((1 / 3, 1.0))
    assert match_detections([[]], truth) == (0.0, 0.0)


def test_grid_detector_shape_and_loss_prefers_the_truth():
    torch.manual_seed(0)
    _, targets, _ = make_detection_scenes(4, seed=0)
    out = GridDetector(width=4)(torch.rand(4, 3, 32, 32))
    assert out.shape == targets.shape
    perfect = torch.cat([_logit(targets[:, :5]), 10 * targets[:, 5:]], 1)
    assert grid_loss(perfect, targets) < grid_loss(torch.zeros_like(targets), targets)
    # an empty cell costs only its objectness term, a full one also box and class
    empty = torch.zeros(1, 7, 1, 1)
    assert grid_loss(empty, empty) == pytest.approx(0.5 * math.log(2))


# ---------------------------------------------------------------------------------- DNA
def test_one_hot_and_motif_planting():
    x = one_hot(["ACGT", "TTAA"])
    assert x.shape == (2, 4, 4)
    assert x[0].argmax(0).tolist() == [0, 1, 2, 3]
    assert x.sum(1).eq(1).all()
    sequences, labels = make_motif_data(40, "GATTACA", length=30, seed=2)
    assert labels.tolist() == [i % 2 for i in range(40)]
    assert all(len(s) == 30 and set(s) <= set(ALPHABET) for s in sequences)
    assert all("GATTACA" in s for s, y in zip(sequences, labels, strict=True) if y)


def test_consensus_and_strongest_window_read_a_filter():
    weight = one_hot(["CCGATTACACC"])[0] * 2 - 1
    weight[:, :2] *= 0.1   # weak flanks
    weight[:, -2:] *= 0.1
    assert consensus(weight) == "CCGATTACACC"
    assert strongest_window(weight, 7) == (2, "GATTACA")


def test_a_motif_net_with_the_motif_as_its_filter_separates_the_classes():
    motif = "GATTACA"
    sequences, labels = make_motif_data(200, motif, length=40, seed=0)
    net = MotifNet(filters=1, width=len(motif))
    with torch.no_grad():
        net.scan.weight.copy_(one_hot([motif]))
        net.scan.bias.fill_(-(len(motif) - 1))   # only a perfect match gets through
        net.score.weight.fill_(1.0)
        net.score.bias.fill_(-0.5)
    predicted = (net(one_hot(sequences)) > 0).long()
    chance = torch.tensor(["GATTACA" in s for s in sequences]).long()
    assert torch.equal(predicted, chance)   # exactly the sequences holding the motif
    assert (predicted == labels).float().mean() > 0.95
