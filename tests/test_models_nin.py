"""Network in Network: mlpconv blocks (a conv then 1x1 convs), global average pooling instead of
FC layers, the ImageNet and CIFAR configurations, and the width multiplier."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnncourse.analysis import conv_params, count_parameters
from cnncourse.models import get_model
from cnncourse.models.nin import NIN_CIFAR, MlpConv, mlpconv


@pytest.fixture(scope="module")
def imagenet_nin() -> nn.Module:
    with torch.device("meta"):
        return get_model("nin")


def test_imagenet_nin_parameters_and_shape(imagenet_nin):
    expected = (conv_params(3, 96, 11) + 2 * conv_params(96, 96, 1)
                + conv_params(96, 256, 5) + 2 * conv_params(256, 256, 1)
                + conv_params(256, 384, 3) + 2 * conv_params(384, 384, 1)
                + conv_params(384, 1024, 3) + conv_params(1024, 1024, 1)
                + conv_params(1024, 1000, 1))
    assert count_parameters(imagenet_nin) == expected == 7_595_176
    out = imagenet_nin(torch.empty(2, 3, 224, 224, device="meta"))
    assert tuple(out.shape) == (2, 1000)


def test_no_fully_connected_layers(imagenet_nin):
    assert not any(isinstance(m, nn.Linear) for m in imagenet_nin.modules())
    # the last feature maps are the class maps, 6x6 on a 224 input, then averaged
    maps = imagenet_nin.features(torch.empty(1, 3, 224, 224, device="meta"))
    assert tuple(maps.shape) == (1, 1000, 6, 6)


def test_cifar_nin_matches_the_paper():
    model = get_model("nin_cifar")
    assert count_parameters(model) == 966_986
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert [c.out_channels for c in convs] == [192, 160, 96, 192, 192, 192, 192, 192, 10]
    assert len(NIN_CIFAR) == 3


def test_mlpconv_is_a_conv_then_1x1_convs_each_with_relu():
    block = mlpconv(3, MlpConv(8, 5, padding=2, mlp=(6, 4)))
    kinds = [type(m) for m in block]
    assert kinds == [nn.Conv2d, nn.ReLU] * 3
    assert [m.kernel_size for m in block if isinstance(m, nn.Conv2d)] == [(5, 5), (1, 1), (1, 1)]
    # a 1x1 conv is a fully connected layer applied at every pixel
    x = torch.randn(2, 3, 7, 7, generator=torch.Generator().manual_seed(0))
    conv = block[2]
    h = block[1](block[0](x))
    per_pixel = torch.einsum("oc,nchw->nohw", conv.weight[:, :, 0, 0], h) + conv.bias.view(
        1, -1, 1, 1)
    torch.testing.assert_close(conv(h), per_pixel)


@pytest.mark.parametrize("width", [0.25, 0.5])
def test_width_multiplier_scales_and_trains(width):
    torch.manual_seed(0)
    model = get_model("nin_cifar", width=width)
    full = count_parameters(get_model("nin_cifar"))
    assert count_parameters(model) < full * width  # convs shrink about quadratically
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 1, 2, 3])
    out = model(x)
    assert out.shape == (4, 10)
    nn.functional.cross_entropy(out, y).backward()
