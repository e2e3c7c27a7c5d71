"""EfficientNet: every variant's published parameter count, the compound-scaling rule, MBConv
with squeeze-and-excitation, and the shapes through B0. Big models are built on meta."""

from __future__ import annotations

from itertools import pairwise

import pytest
import torch

from cnncourse.analysis import count_parameters
from cnncourse.models import get_model
from cnncourse.models.efficientnet import (
    B0_STAGES,
    COMPOUND_COEFFICIENTS,
    EFFICIENTNET_VARIANTS,
    MBConv,
    StochasticDepth,
    compound_flops_factor,
    compound_multipliers,
    make_divisible,
)

# torchvision's published counts (ImageNet, 1000 classes)
PARAMS = {
    "efficientnet_b0": 5_288_548,
    "efficientnet_b1": 7_794_184,
    "efficientnet_b2": 9_109_994,
    "efficientnet_b3": 12_233_232,
    "efficientnet_b4": 19_341_616,
    "efficientnet_b5": 30_389_784,
    "efficientnet_b6": 43_040_704,
    "efficientnet_b7": 66_347_960,
}
# the paper's Table 2 resolutions, and the official dropout rates
RESOLUTION = {"b0": 224, "b1": 240, "b2": 260, "b3": 300, "b4": 380, "b5": 456, "b6": 528,
              "b7": 600}
DROPOUT = {"b0": 0.2, "b1": 0.2, "b2": 0.3, "b3": 0.3, "b4": 0.4, "b5": 0.4, "b6": 0.5,
           "b7": 0.5}


@pytest.mark.parametrize("name", PARAMS)
def test_parameter_counts(name):
    with torch.device("meta"):
        model = get_model(name)
    assert count_parameters(model) == PARAMS[name]
    assert model.dropout.p == DROPOUT[name[-2:]]


def test_variants_table():
    assert {k: v.resolution for k, v in EFFICIENTNET_VARIANTS.items()} == RESOLUTION
    assert EFFICIENTNET_VARIANTS["b0"].width == EFFICIENTNET_VARIANTS["b0"].depth == 1.0


def test_b0_table_is_the_paper():
    rows = [(s.expand, s.kernel, s.stride, s.out_channels, s.layers) for s in B0_STAGES]
    assert rows == [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3),
                    (6, 5, 1, 112, 3), (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]
    # each stage starts where the previous one ended
    assert all(a.out_channels == b.in_channels for a, b in pairwise(B0_STAGES))


def test_compound_constraint_and_multipliers():
    c = COMPOUND_COEFFICIENTS
    assert abs(c["alpha"] * c["beta"] ** 2 * c["gamma"] ** 2 - 2) < 0.1
    d, w, r = compound_multipliers(2)
    assert (round(d, 4), round(w, 4), round(r, 4)) == (1.44, 1.21, 1.3225)
    assert compound_multipliers(0) == (1.0, 1.0, 1.0)


def test_compound_flops_factor_is_depth_times_width_and_resolution_squared():
    for phi in (0, 1, 2.5):
        d, w, r = compound_multipliers(phi, 1.3, 1.2, 1.1)
        assert compound_flops_factor(phi, 1.3, 1.2, 1.1) == pytest.approx(d * w**2 * r**2)
    assert compound_flops_factor(1) == pytest.approx(1.2 * 1.1**2 * 1.15**2)  # 1.92, not 2


def test_make_divisible():
    assert [make_divisible(v) for v in (32 * 1.1, 16 * 1.8, 3.0, 112 * 1.4)] == [32, 32, 8, 160]
    assert make_divisible(36) == 40  # ties round up; never more than 10% below


def test_b0_shapes_and_block_count():
    model = get_model("efficientnet_b0", num_classes=7).eval()
    assert len(model.blocks) == sum(s.layers for s in B0_STAGES) == 16
    x = torch.randn(1, 3, 64, 64)
    assert model.blocks(model.stem(x)).shape == (1, 320, 2, 2)
    assert model(x).shape == (1, 7)


def test_mbconv_parameters_and_residual():
    block = MBConv(16, 16, kernel=3, stride=1, expand=6)
    hidden, squeeze = 96, 4
    expected = (16 * hidden + 2 * hidden            # expand 1x1 + BN
                + 9 * hidden + 2 * hidden           # depth-wise 3x3 + BN
                + hidden * squeeze + squeeze + squeeze * hidden + hidden  # SE
                + hidden * 16 + 2 * 16)             # project 1x1 + BN
    assert count_parameters(block) == expected
    assert block.use_residual
    assert not MBConv(16, 24, kernel=3, stride=2, expand=6).use_residual
    block.eval()
    with torch.no_grad():
        block.project[1].weight.zero_()  # the branch now outputs BN's bias (zero): identity
        x = torch.randn(2, 16, 8, 8)
        assert torch.equal(block(x), x)


def test_stochastic_depth_drops_whole_samples_and_keeps_the_mean():
    torch.manual_seed(0)
    drop = StochasticDepth(0.5).train()
    out = drop(torch.ones(4000, 3, 2, 2))
    per_sample = out.flatten(1)
    assert set(per_sample.unique().tolist()) == {0.0, 2.0}
    assert (per_sample == per_sample[:, :1]).all()
    assert abs(out.mean().item() - 1.0) < 0.05
    assert torch.equal(drop.eval()(torch.ones(3, 3)), torch.ones(3, 3))


def test_drop_path_rises_linearly():
    model = get_model("efficientnet_b0")
    rates = [b.drop_path.p for b in model.blocks]
    assert rates[0] == 0.0 and rates == sorted(rates) and rates[-1] < 0.2
