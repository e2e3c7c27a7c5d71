"""AlexNet (paper, one tower, one weird trick as torchvision ships it and as its paper gives
it) and ZFNet: parameter counts, shapes, the parts
that differ between them (groups, LRN, pooling order), and the 224 vs 227 input puzzle.

Big models are built once, on the meta device (no memory, no initialisation)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnncourse.analysis import conv_params, count_parameters, linear_params
from cnncourse.models import get_model, list_models
from cnncourse.models.alexnet import ALEXNET_2012, LRN_ALPHA, LRN_BETA, LRN_K, alexnet_lrn

PARAMS = {
    "alexnet2012": 60_965_224,   # two GPUs: CONV2, CONV4, CONV5 grouped
    "alexnet": 62_378_344,       # one tower, as layer tables show it
    "alexnet_owt": 61_100_840,   # torchvision's alexnet: 64-192-384-256-256
    "alexnet_owt_paper": 61_838_248,  # Krizhevsky 2014's footnote: 64-192-384-384-256
}
INPUT = {"alexnet2012": 227, "alexnet": 227, "alexnet_owt": 224, "alexnet_owt_paper": 224,
         "zfnet": 224}


@pytest.fixture(scope="module")
def models() -> dict[str, nn.Module]:
    with torch.device("meta"):
        return {name: get_model(name) for name in INPUT}


def feature_shapes(model: nn.Module, size: int) -> list[tuple[int, ...]]:
    """Output shape (without batch) of each conv block, on the meta device."""
    x = torch.empty(1, 3, size, size, device="meta")
    shapes = []
    for block in model.features:
        x = block(x)
        shapes.append(tuple(x.shape[1:]))
    return shapes


def test_builders_are_registered():
    assert set(INPUT) <= set(list_models())


@pytest.mark.parametrize("name", PARAMS)
def test_parameter_counts(models, name):
    assert count_parameters(models[name]) == PARAMS[name]


def test_zfnet_parameters_follow_from_its_layers(models):
    convs = (conv_params(3, 96, 7) + conv_params(96, 256, 5) + conv_params(256, 384, 3)
             + conv_params(384, 384, 3) + conv_params(384, 256, 3))
    fcs = linear_params(256 * 6 * 6, 4096) + linear_params(4096, 4096) + linear_params(4096, 1000)
    assert count_parameters(models["zfnet"]) == convs + fcs == 62_357_608


def test_one_weird_trick_widths_the_paper_and_torchvision(models):
    # The paper's footnote (p. 5): 64, 192, 384, 384, 256; torchvision: 256 in CONV4 (its
    # pretrained weights were trained so; pytorch/vision pull requests 463 and 704).
    widths = {name: [block[0].out_channels for block in models[name].features]
              for name in ("alexnet_owt", "alexnet_owt_paper")}
    assert widths["alexnet_owt_paper"] == [64, 192, 384, 384, 256]
    assert widths["alexnet_owt"] == [64, 192, 384, 256, 256]
    extra = conv_params(384, 384, 3) - conv_params(384, 256, 3) + 256 * 128 * 9
    assert PARAMS["alexnet_owt_paper"] - PARAMS["alexnet_owt"] == extra


def test_paper_groups_save_exactly_half_of_conv2_conv4_conv5(models):
    paper, tower = models["alexnet2012"], models["alexnet"]
    for i, spec in enumerate(ALEXNET_2012):
        conv_paper, conv_tower = paper.features[i][0], tower.features[i][0]
        assert conv_paper.groups == spec.groups
        saved = conv_tower.weight.numel() - conv_paper.weight.numel()
        assert saved == (conv_tower.weight.numel() // 2 if spec.groups == 2 else 0)
    assert PARAMS["alexnet"] - PARAMS["alexnet2012"] == sum(
        paper.features[i][0].weight.numel() for i in (1, 3, 4))


@pytest.mark.parametrize("name", ["alexnet2012", "alexnet"])
def test_feature_sizes_of_the_paper_on_227(models, name):
    assert feature_shapes(models[name], 227) == [
        (96, 27, 27), (256, 13, 13), (384, 13, 13), (384, 13, 13), (256, 6, 6)]


def test_zfnet_feature_sizes_match_its_figure_3(models):
    zf = models["zfnet"]
    x = torch.empty(1, 3, 224, 224, device="meta")
    conv1 = zf.features[0][0](x)
    assert conv1.shape[-1] == 110  # 7x7 stride 2 (AlexNet: 11x11 stride 4 -> 55)
    assert feature_shapes(zf, 224) == [
        (96, 55, 55), (256, 13, 13), (384, 13, 13), (384, 13, 13), (256, 6, 6)]


def test_block_order_alexnet_normalises_then_pools_zfnet_pools_then_normalises(models):
    kinds = [type(m) for m in models["alexnet2012"].features[0]]
    assert kinds == [nn.Conv2d, nn.ReLU, nn.LocalResponseNorm, nn.MaxPool2d]
    kinds = [type(m) for m in models["zfnet"].features[0]]
    assert kinds == [nn.Conv2d, nn.ReLU, nn.MaxPool2d, nn.LocalResponseNorm]
    assert not any(isinstance(m, nn.LocalResponseNorm) for m in models["alexnet_owt"].modules())


@pytest.mark.parametrize("name", list(INPUT))
def test_output_is_one_score_per_class(models, name):
    size = INPUT[name]
    out = models[name](torch.empty(2, 3, size, size, device="meta"))
    assert tuple(out.shape) == (2, 1000)


def test_the_paper_network_needs_227_not_224(models):
    # 224 gives 54 after CONV1, 5x5 after the last pool: 6400 features, not FC6's 9216.
    with pytest.raises(RuntimeError):
        models["alexnet2012"](torch.empty(1, 3, 224, 224, device="meta"))
    assert feature_shapes(models["alexnet2012"], 224)[-1] == (256, 5, 5)


def test_lrn_is_the_papers_formula():
    # b_i = a_i / (k + alpha * sum over the n = 5 neighbouring channels of a_j^2) ** beta
    a = torch.randn(2, 7, 3, 3, generator=torch.Generator().manual_seed(0)) * 10
    squares = torch.nn.functional.pad(a.pow(2), (0, 0, 0, 0, 2, 2))
    window_sum = sum(squares[:, j:j + 7] for j in range(5))
    expected = a / (LRN_K + LRN_ALPHA * window_sum) ** LRN_BETA
    torch.testing.assert_close(alexnet_lrn()(a), expected)


def test_small_real_forward_pass_and_kwargs():
    torch.manual_seed(0)
    model = get_model("alexnet_owt", num_classes=10, hidden=64)
    model.eval()
    out = model(torch.randn(1, 3, 64, 64))  # the adaptive pool accepts small inputs
    assert out.shape == (1, 10) and torch.isfinite(out).all()


def test_dropout_where_the_paper_puts_it_and_where_torchvision_does(models):
    # Krizhevsky et al. 2012, Section 4.2 (and Caffe): dropout on FC6's and FC7's outputs.
    kinds = [type(m) for m in models["alexnet2012"].classifier]
    assert kinds == [nn.Linear, nn.ReLU, nn.Dropout, nn.Linear, nn.ReLU, nn.Dropout, nn.Linear]
    for name in ("alexnet", "zfnet"):
        assert [type(m) for m in models[name].classifier] == kinds
    # torchvision's alexnet: dropout on FC6's and FC7's inputs, nothing after FC7
    kinds = [type(m) for m in models["alexnet_owt"].classifier]
    assert kinds == [nn.Dropout, nn.Linear, nn.ReLU, nn.Dropout, nn.Linear, nn.ReLU, nn.Linear]
