"""ConvNeXt and ConvNeXt V2: every size's parameter count, the block, LayerNorm2d, GRN and the
shapes through the stages. Big models are built on meta."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnncourse.analysis import count_parameters
from cnncourse.models import get_model
from cnncourse.models.convnext import GRN, ConvNeXtBlock, LayerNorm2d, global_response_norm
from cnncourse.models.convnext_roadmap import FIGURE2_GFLOPS, ROADMAP, RoadmapNet

# torchvision's published counts (ImageNet, 1000 classes); xlarge is the paper's 350M
PARAMS = {
    "convnext_tiny": 28_589_128,
    "convnext_small": 50_223_688,
    "convnext_base": 88_591_464,
    "convnext_large": 197_767_336,
    "convnext_xlarge": 350_196_968,
}
# ConvNeXt V2 paper's sizes in millions (rounded as it prints them) and our exact counts
V2_PARAMS = {
    "convnextv2_atto": (3.7, 3_708_400),
    "convnextv2_femto": (5.2, 5_233_240),
    "convnextv2_pico": (9.1, 9_066_280),
    "convnextv2_nano": (15.6, 15_623_800),
    "convnextv2_tiny": (28.6, 28_635_496),
    "convnextv2_base": (89, 88_717_800),
    "convnextv2_large": (198, 197_956_840),
    "convnextv2_huge": (660, 660_289_640),
}


@pytest.mark.parametrize("name", PARAMS)
def test_parameter_counts(name):
    with torch.device("meta"):
        assert count_parameters(get_model(name)) == PARAMS[name]


@pytest.mark.parametrize("name", V2_PARAMS)
def test_v2_parameter_counts(name):
    millions, exact = V2_PARAMS[name]
    with torch.device("meta"):
        count = count_parameters(get_model(name))
    assert count == exact
    digits = 1 if millions < 30 else 0
    assert round(count / 1e6, digits) == millions


def test_v2_differs_from_v1_only_by_grn_and_layer_scale():
    with torch.device("meta"):
        v1, v2 = get_model("convnext_tiny"), get_model("convnextv2_tiny")
    # per block: V1 has layer scale (C), V2 has GRN (2 * 4C)
    blocks = [(3, 96), (3, 192), (9, 384), (3, 768)]
    assert count_parameters(v2) - count_parameters(v1) == sum(n * 7 * c for n, c in blocks)


def test_block_parameters_and_identity_at_init():
    block = ConvNeXtBlock(8)
    expected = 8 * 49 + 8 + 2 * 8 + 8 * 32 + 32 + 32 * 8 + 8 + 8
    assert count_parameters(block) == expected
    x = torch.randn(2, 8, 5, 5)
    with torch.no_grad():
        block.gamma.zero_()
        assert torch.equal(block(x), x)
        block.gamma.fill_(1.0)
        assert not torch.allclose(block(x), x)


def test_layernorm2d_normalises_channels_at_each_position():
    x = torch.randn(2, 6, 3, 4)
    ln = LayerNorm2d(6)
    out = ln(x)
    ref = nn.functional.layer_norm(x.permute(0, 2, 3, 1), (6,)).permute(0, 3, 1, 2)
    assert torch.allclose(out, ref, atol=1e-6)
    assert torch.allclose(out.mean(dim=1), torch.zeros(2, 3, 4), atol=1e-5)


def test_grn_matches_the_formula():
    torch.manual_seed(0)
    grn = GRN(5)
    x = torch.randn(2, 4, 3, 5)
    assert torch.equal(grn(x), x)  # zero gamma and beta: identity
    with torch.no_grad():
        grn.gamma.normal_()
        grn.beta.normal_()
    g = x.pow(2).sum(dim=(1, 2), keepdim=True).sqrt()
    n = g / (g.mean(dim=-1, keepdim=True) + 1e-6)
    assert torch.allclose(grn(x), grn.gamma * x * n + grn.beta + x, atol=1e-6)
    assert torch.equal(grn(x), global_response_norm(x, grn.gamma, grn.beta))


def test_stage_shapes():
    model = get_model("convnextv2_atto", num_classes=3).eval()
    x = torch.randn(1, 3, 64, 64)
    shapes = []
    for downsample, stage in zip(model.downsample, model.stages, strict=True):
        x = stage(downsample(x))
        shapes.append(tuple(x.shape))
    assert shapes == [(1, 40, 16, 16), (1, 80, 8, 8), (1, 160, 4, 4), (1, 320, 2, 2)]
    assert model(torch.randn(2, 3, 64, 64)).shape == (2, 3)


def test_roadmap_runs_from_resnet50_to_convnext_tiny():
    from torch.utils.flop_counter import FlopCounterMode

    names = list(ROADMAP)
    assert set(FIGURE2_GFLOPS) <= set(names)
    assert names[0] == "ResNet-50" and len(names) == 14
    with torch.device("meta"):
        counts = {name: count_parameters(RoadmapNet(d)) for name, d in ROADMAP.items()}
        for name, gflops in FIGURE2_GFLOPS.items():
            model = RoadmapNet(ROADMAP[name]).eval()
            with FlopCounterMode(display=False) as counter:
                model(torch.empty(1, 3, 224, 224))
            assert abs(counter.get_total_flops() / 2e9 - gflops) < 0.12, name
    assert counts["ResNet-50"] == 25_557_032  # torchvision's resnet50
    assert counts[names[-1]] == PARAMS["convnext_tiny"]
    assert counts["GELU"] == counts["7x7 kernel"]  # an activation has no parameters


def test_roadmap_end_computes_what_convnext_tiny_computes():
    torch.manual_seed(0)
    road = RoadmapNet(ROADMAP["layer scale (ConvNeXt-T)"], num_classes=5).eval()
    x = torch.randn(1, 3, 32, 32)
    assert road(x).shape == (1, 5)
    # a block of the end of the road has ConvNeXt's structure: dw 7x7, one norm, one GELU
    block = road.stages[1][1]
    kinds = [type(m).__name__ for m in block.branch]
    assert kinds == ["Conv2d", "LayerNorm2d", "Conv2d", "GELU", "Conv2d"]
    assert block.branch[0].groups == block.branch[0].in_channels == 192
