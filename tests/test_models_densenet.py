"""DenseNet: Table 1's parameter counts, the channel arithmetic k0 + k*l, concatenation order,
transitions, and the CIFAR DenseNet-BC. Big models are built on the meta device."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnncourse.analysis import conv_params, count_parameters
from cnncourse.models import get_model
from cnncourse.models.densenet import (
    DENSENET_CONFIGS,
    DenseBlock,
    DenseLayer,
    DenseNet,
    Transition,
)

PARAMS = {
    "densenet121": 7_978_856,
    "densenet169": 14_149_480,
    "densenet201": 20_013_928,
}


@pytest.mark.parametrize("name", PARAMS)
def test_parameter_counts(name):
    with torch.device("meta"):
        assert count_parameters(get_model(name)) == PARAMS[name]


def closed_form(blocks, k=32, k0=64, bn=4) -> int:
    """Parameters from the block depths alone: convs + BN (2 per channel) + FC."""
    total = conv_params(3, k0, 7, bias=False) + 2 * k0
    channels = k0
    for i, n in enumerate(blocks):
        for _ in range(n):
            total += 2 * channels + conv_params(channels, bn * k, 1, bias=False)
            total += 2 * bn * k + conv_params(bn * k, k, 3, bias=False)
            channels += k
        if i < len(blocks) - 1:
            total += 2 * channels + conv_params(channels, channels // 2, 1, bias=False)
            channels //= 2
    return total + 2 * channels + channels * 1000 + 1000


@pytest.mark.parametrize("depth", [121, 169, 201])
def test_counts_follow_from_table_1(depth):
    assert closed_form(DENSENET_CONFIGS[depth]) == PARAMS[f"densenet{depth}"]


def test_the_name_counts_the_weight_layers():
    # two convs per dense layer, the stem conv, three transition convs and the FC layer
    layers = {depth: 2 * sum(blocks) + 1 + 3 + 1 for depth, blocks in DENSENET_CONFIGS.items()}
    # Table 1's "DenseNet-264" row (6, 12, 64, 48) has 265 weight layers: a slip in the paper
    assert layers == {121: 121, 169: 169, 201: 201, 264: 265}


def test_block_grows_by_k_per_layer_and_concatenates_in_order():
    torch.manual_seed(0)
    block = DenseBlock(num_layers=3, in_channels=5, growth_rate=4).eval()
    assert [layer.conv1.in_channels for layer in block.layers] == [5, 9, 13]
    x = torch.randn(2, 5, 6, 6)
    out = block(x)
    assert out.shape == (2, 5 + 3 * 4, 6, 6) and block.out_channels == 17
    assert torch.equal(out[:, :5], x)  # the input comes first, untouched
    first = block.layers[0]([x])
    assert torch.allclose(out[:, 5:9], first)  # then the first layer's k maps


def test_dense_layer_has_a_4k_bottleneck():
    layer = DenseLayer(in_channels=100, growth_rate=12)
    assert layer.conv1.out_channels == 48 and layer.conv2.out_channels == 12
    assert layer.conv2.kernel_size == (3, 3)


def test_transition_compresses_and_halves():
    t = Transition(64, 32)
    assert t(torch.randn(1, 64, 8, 8)).shape == (1, 32, 4, 4)
    assert isinstance(t[-1], nn.AvgPool2d)


def test_densenet121_channels_and_stem():
    with torch.device("meta"):
        model = get_model("densenet121")
    x = torch.empty(2, 3, 224, 224, device="meta")  # outside the device context: far faster
    assert model.stem(x).shape == (2, 64, 56, 56)
    # 64 + 6*32 = 256 -> 128; 128 + 12*32 = 512 -> 256; 256 + 24*32 = 1024 -> 512; 512 + 16*32
    blocks = [m.out_channels for m in model.features if isinstance(m, DenseBlock)]
    assert blocks == [256, 512, 1024, 1024] and model.classifier.in_features == 1024


def test_cifar_densenet_bc():
    with torch.device("meta"):
        model = get_model("densenet_bc_cifar")  # L = 100, k = 12: "0.8M" in the paper
    assert count_parameters(model) == 769_162
    assert model(torch.empty(2, 3, 32, 32, device="meta")).shape == (2, 10)
    with pytest.raises(ValueError, match="6n \\+ 4"):
        get_model("densenet_bc_cifar", depth=50)


def test_a_small_densenet_trains_a_step():
    torch.manual_seed(0)
    model = DenseNet((2, 2), growth_rate=4, init_channels=8, num_classes=3, stem="cifar")
    loss = nn.functional.cross_entropy(model(torch.randn(4, 3, 8, 8)),
                                       torch.tensor([0, 1, 2, 0]))
    loss.backward()
    assert torch.isfinite(loss) and model.stem[0].weight.grad.abs().sum() > 0


def test_bad_stem_is_explained():
    with pytest.raises(ValueError, match="stem must be"):
        DenseNet((1,), stem="tiny")
