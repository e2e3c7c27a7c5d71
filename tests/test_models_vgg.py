"""VGG: the paper's Table 1 as data, every configuration's parameter count, where VGG-16's
parameters live, and the shapes through the network. Big models are built on the meta device."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnncourse.analysis import conv_params, count_parameters, linear_params
from cnncourse.models import get_model
from cnncourse.models.vgg import VGG, VGG_CONFIGS, last_channels, make_layers

PARAMS = {
    "vgg11": 132_863_336,        # A
    "vgg11_lrn": 132_863_336,    # A-LRN: LRN has no parameters
    "vgg13": 133_047_848,        # B
    "vgg16_c": 133_638_952,      # C: B plus three 1x1 convs
    "vgg16": 138_357_544,        # D
    "vgg19": 143_667_240,        # E
    # with batch norm: two trainable parameters (gamma, beta) per channel
    "vgg11_bn": 132_868_840,
    "vgg13_bn": 133_053_736,
    "vgg16_c_bn": 133_647_400,
    "vgg16_bn": 138_365_992,
    "vgg19_bn": 143_678_248,
}
CONFIG_OF = {"vgg11": "A", "vgg11_lrn": "A-LRN", "vgg13": "B", "vgg16_c": "C", "vgg16": "D",
             "vgg19": "E"}


@pytest.fixture(scope="module")
def models() -> dict[str, nn.Module]:
    with torch.device("meta"):
        return {name: get_model(name) for name in PARAMS}


@pytest.mark.parametrize("name", PARAMS)
def test_parameter_counts(models, name):
    assert count_parameters(models[name]) == PARAMS[name]


def closed_form(cfg) -> int:
    """Parameters of a column from its table entries alone (3x3 convs, 1x1 convs, FCs)."""
    total, channels = 0, 3
    for entry in cfg:
        if isinstance(entry, str):
            continue
        filters, kernel = entry if isinstance(entry, tuple) else (entry, 3)
        total += conv_params(channels, filters, kernel)
        channels = filters
    return total + (linear_params(channels * 7 * 7, 4096) + linear_params(4096, 4096)
                    + linear_params(4096, 1000))


@pytest.mark.parametrize("name", CONFIG_OF)
def test_counts_follow_from_the_table(name):
    assert closed_form(VGG_CONFIGS[CONFIG_OF[name]]) == PARAMS[name]


def test_weight_layers_match_the_names():
    # VGG-n has n weight layers: convs plus the three FC layers
    depth = {name: sum(not isinstance(e, str) for e in VGG_CONFIGS[c]) + 3
             for name, c in CONFIG_OF.items()}
    assert depth == {"vgg11": 11, "vgg11_lrn": 11, "vgg13": 13, "vgg16_c": 16, "vgg16": 16,
                     "vgg19": 19}


def test_configuration_c_has_three_1x1_convs(models):
    kernels = [m.kernel_size for m in models["vgg16_c"].features if isinstance(m, nn.Conv2d)]
    assert kernels.count((1, 1)) == 3 and kernels.count((3, 3)) == 10


def test_vgg16_parameters_live_in_fc6(models):
    fc6 = models["vgg16"].classifier[0]
    assert fc6.weight.shape == (4096, 512 * 7 * 7)
    assert count_parameters(fc6) == 102_764_544
    fcs = sum(count_parameters(m) for m in models["vgg16"].classifier)
    assert fcs == 123_642_856 and count_parameters(models["vgg16"].features) == 14_714_688


@pytest.mark.parametrize("name", ["vgg11_lrn", "vgg16_c", "vgg19_bn"])
def test_shapes_through_the_network(models, name):
    x = torch.empty(2, 3, 224, 224, device="meta")
    features = models[name].features(x)
    assert tuple(features.shape) == (2, 512, 7, 7)  # five 2x2 pools: 224 / 32
    assert tuple(models[name](x).shape) == (2, 1000)


def test_every_3x3_conv_keeps_the_size_and_every_pool_halves_it():
    x = torch.empty(1, 3, 32, 32, device="meta")
    for layer in make_layers(VGG_CONFIGS["E"]).to("meta"):
        y = layer(x)
        expected = x.shape[-1] // 2 if isinstance(layer, nn.MaxPool2d) else x.shape[-1]
        assert y.shape[-1] == expected
        x = y


def test_bad_table_entry_is_explained():
    with pytest.raises(ValueError, match="unknown VGG table entry"):
        make_layers([64, "pool"])


def test_a_small_vgg_trains_a_step():
    torch.manual_seed(0)
    cfg = [8, "M", 16, "M", 32, (32, 1), "M"]
    assert last_channels(cfg) == 32
    model = VGG(cfg, num_classes=10, hidden=32, pool_to=2, norm_layer=nn.BatchNorm2d)
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
    loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    assert torch.isfinite(loss) and model.features[0].weight.grad.abs().sum() > 0
