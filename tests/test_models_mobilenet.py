"""MobileNet V1 and V2: parameter counts, the width and resolution multipliers, the depth-wise
separable layer's cost, and the inverted residual's shortcut rule."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnncourse.analysis import count_parameters, depthwise_separable_macs, layer_table
from cnncourse.models import get_model
from cnncourse.models.mobilenet import (
    MOBILENET_V2_SETTINGS,
    DepthwiseSeparableConv,
    InvertedResidual,
    make_divisible,
)


def params(name, **kwargs) -> int:
    with torch.device("meta"):
        return count_parameters(get_model(name, **kwargs))


def test_mobilenet_v2_count():
    assert params("mobilenet_v2") == 3_504_872


def test_mobilenet_v1_counts_match_the_paper():
    # Table 6 of Howard et al.: 4.2M, 2.6M, 1.3M, 0.5M parameters for alpha 1, .75, .5, .25
    assert params("mobilenet_v1") == 4_231_976
    got = [round(params("mobilenet_v1", alpha=a) / 1e6, 1) for a in (0.75, 0.5, 0.25)]
    assert got == [2.6, 1.3, 0.5]


def test_rho_changes_resolution_not_parameters():
    with torch.device("meta"):
        small = get_model("mobilenet_v1", rho=128 / 224)
        assert small.input_resolution == 128
        assert count_parameters(small) == 4_231_976
    with pytest.raises(ValueError, match="positive"):
        get_model("mobilenet_v1", alpha=0)


def test_v1_shapes():
    with torch.device("meta"):
        model = get_model("mobilenet_v1")
    assert model.features(torch.empty(1, 3, 224, 224, device="meta")).shape == (1, 1024, 7, 7)


def test_separable_layer_macs_match_the_formula():
    layer = DepthwiseSeparableConv(32, 64, stride=2)
    table = layer_table(layer, (32, 16, 16))
    assert table.total_macs == depthwise_separable_macs(32, 64, 3, 8, 8)
    assert layer.depthwise[0].groups == 32


def test_v2_table_2():
    with torch.device("meta"):
        model = get_model("mobilenet_v2")
    blocks = [m for m in model.modules() if isinstance(m, InvertedResidual)]
    assert len(blocks) == sum(n for _, _, n, _ in MOBILENET_V2_SETTINGS) == 17
    assert sum(b.use_residual for b in blocks) == 10
    assert model.features(torch.empty(1, 3, 224, 224, device="meta")).shape == (1, 1280, 7, 7)


def test_inverted_residual_shortcut_rule():
    torch.manual_seed(0)
    x = torch.randn(2, 16, 8, 8)
    same = InvertedResidual(16, 16, 1, 6).eval()
    assert same.use_residual
    assert torch.allclose(same(x), x + same.block(x))
    assert not InvertedResidual(16, 16, 2, 6).use_residual
    assert not InvertedResidual(16, 24, 1, 6).use_residual
    assert InvertedResidual(16, 24, 2, 6)(x).shape == (2, 24, 4, 4)


def test_projection_is_linear_and_expansion_uses_relu6():
    block = InvertedResidual(16, 16, 1, 6)
    expand, depthwise, project = block.block
    assert expand[0].out_channels == 96 and isinstance(expand[-1], nn.ReLU6)
    assert depthwise[0].groups == 96
    assert not any(isinstance(m, nn.ReLU | nn.ReLU6) for m in project)


def test_make_divisible():
    assert [make_divisible(v) for v in (32, 24, 12, 10, 3)] == [32, 24, 16, 16, 8]


def test_a_small_v2_trains_a_step():
    torch.manual_seed(0)
    model = get_model("mobilenet_v2", alpha=0.25, num_classes=3, last_channels=64,
                      settings=[(1, 8, 1, 1), (6, 16, 2, 2)])
    loss = nn.functional.cross_entropy(model(torch.randn(4, 3, 16, 16)),
                                       torch.tensor([0, 1, 2, 0]))
    loss.backward()
    assert torch.isfinite(loss) and model.features[0][0].weight.grad.abs().sum() > 0
