"""The Neocognitron: S-cells fire on matching patches only, C-layers halve the maps, the
winner-take-all rule moves only winners, unsupervised training is seeded and learns, and the
top layer tolerates shifts better than raw pixels."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from cnncourse.analysis import count_parameters
from cnncourse.data import load_mnist
from cnncourse.models import get_model, list_models
from cnncourse.models.neocognitron import (
    CLayer,
    Neocognitron,
    SLayer,
    Stage,
    train_neocognitron,
    winner_take_all_step,
)


def test_registered_and_shapes():
    assert "neocognitron" in list_models()
    model = get_model("neocognitron")
    outputs = model.responses(torch.rand(2, 1, 28, 28))
    assert [tuple(o.shape[1:]) for o in outputs] == [(8, 28, 28), (8, 14, 14),
                                                      (16, 14, 14), (16, 7, 7)]
    assert count_parameters(model, trainable_only=True) == 0  # nothing learns by backprop
    assert count_parameters(model) == 8 * 25 + 16 * 8 * 25


def test_s_cell_fires_on_its_feature_and_not_below_threshold():
    layer = SLayer(1, 2, kernel=3, threshold=0.5)
    feature = torch.tensor([[0.0, 1, 0], [0, 1, 0], [0, 1, 0]])  # a vertical bar
    with torch.no_grad():
        layer.weight[0, 0] = feature / feature.norm()
        layer.weight[1, 0] = feature.T / feature.norm()          # a horizontal bar
    x = torch.zeros(1, 1, 5, 5)
    x[0, 0, 1:4, 2] = 3.0  # a bright vertical bar centred at (2, 2)
    out = layer(x)
    assert abs(float(out[0, 0, 2, 2]) - 1.0) < 1e-4       # a perfect match, whatever the contrast
    assert float(out[0, 1, 2, 2]) == 0.0                    # cosine 1/3 is below the threshold
    assert (out >= 0).all()


def test_c_layer_halves_and_saturates():
    out = CLayer(blur=3)(torch.full((1, 2, 8, 8), 100.0))
    assert out.shape == (1, 2, 4, 4)
    assert (out < 1).all() and (out > 0.98).all()


def test_winner_take_all_moves_only_winners_towards_their_patches():
    weight = torch.eye(3).view(3, 1, 1, 3).clone()
    patches = torch.tensor([[2.0, 0.2, 0.0], [1.0, 0.0, 0.2]])  # both closest to plane 0
    wins = winner_take_all_step(weight, patches, rate=0.5)
    assert wins.tolist() == [2, 0, 0]
    assert torch.equal(weight[1:], torch.eye(3)[1:].view(2, 1, 1, 3))
    moved = weight[0].flatten()
    assert moved[1] > 0 and moved[2] > 0 and abs(float(moved.norm()) - 1) < 1e-6


def test_training_is_seeded_learns_and_keeps_every_plane_alive():
    images, _ = load_mnist("train")
    images = images[:200]
    small = (Stage(planes=4, kernel=5, threshold=0.5), Stage(planes=6, kernel=3, threshold=0.4))
    a, b = Neocognitron(small), Neocognitron(small)
    wins_a = train_neocognitron(a, images, steps=10, batch_patches=256, seed=3)
    train_neocognitron(b, images, steps=10, batch_patches=256, seed=3)
    for p, q in zip(a.parameters(), b.parameters(), strict=True):
        assert torch.equal(p, q)
    assert [len(w) for w in wins_a] == [4, 6]
    assert all(int(w.sum()) == 256 for w in wins_a)
    assert all(int(w.min()) > 0 for w in wins_a), wins_a  # every plane still wins patches
    for layer in a.s_layers():  # unit-norm filters that differ from each other
        flat = layer.weight.flatten(1)
        torch.testing.assert_close(flat.norm(dim=1), torch.ones(len(flat)))
        similarity = flat @ flat.T - torch.eye(len(flat))
        assert similarity.max() < 0.99


def _shift_right(x: torch.Tensor, pixels: int) -> torch.Tensor:
    return F.pad(x, (pixels, 0))[..., :x.shape[-1]]


def test_top_layer_tolerates_shifts_better_than_pixels():
    images, _ = load_mnist("train")
    torch.manual_seed(0)
    model = get_model("neocognitron")
    train_neocognitron(model, images[:300], steps=15, batch_patches=512)
    digits, _ = load_mnist("test")
    digits = digits[:100]
    with torch.no_grad():
        base = model(digits).flatten(1)
        for pixels in (1, 2, 3, 4):
            moved = _shift_right(digits, pixels)
            features = F.cosine_similarity(base, model(moved).flatten(1)).mean()
            raw = F.cosine_similarity(digits.flatten(1), moved.flatten(1)).mean()
            assert features > raw + 0.1, (pixels, float(features), float(raw))
