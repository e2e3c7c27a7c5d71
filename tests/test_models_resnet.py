"""ResNet and its descendants: every published parameter count, the counts without the
classifier, closed forms for the blocks, shapes, and the behaviours the chapter relies on
(zero-initialised residuals give relu(x), option A has no parameters, stochastic depth,
pre-activation identity paths, Wide ResNet and ResNet-1001 on CIFAR). Big models are built on
the meta device."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnncourse.analysis import conv_params, count_parameters, linear_params
from cnncourse.models import get_model
from cnncourse.models.preact_resnet import (
    PreActBasicBlock,
    PreActBottleneck,
    preact_cifar_resnet,
    wide_cifar_resnet,
)
from cnncourse.models.resnet import (
    RESNET_LAYERS,
    BasicBlock,
    Bottleneck,
    PlainBlock,
    ResNet,
    SqueezeExcitation,
    StochasticDepth,
    ZeroPadShortcut,
    cifar_resnet,
    drop_probs,
    shortcut_a,
    shortcut_b,
    shortcut_c,
)

PARAMS = {
    "resnet18": 11_689_512,
    "resnet34": 21_797_672,
    "resnet50": 25_557_032,
    "resnet101": 44_549_160,
    "resnet152": 60_192_808,
    "wide_resnet50_2": 68_883_240,
    "resnext50_32x4d": 25_028_904,
    "se_resnet50": 28_088_024,        # Hu et al. (2017) Table 2: 28.1M
    # He et al. (2015) Section 4.2: 0.27M, 0.46M, 0.67M, 0.85M, 1.7M
    "cifar_resnet20": 269_722,
    "cifar_resnet32": 464_154,
    "cifar_resnet44": 658_586,
    "cifar_resnet56": 853_018,
    "cifar_resnet110": 1_727_962,
    # He et al. (2016): 1.7M and 10.2M; Zagoruyko and Komodakis (2016) Table 5: 36.5M
    "cifar_preact_resnet164": 1_703_258,
    "cifar_preact_resnet1001": 10_327_706,
    "cifar_wrn28_10": 36_479_194,
}
# Without the classifier (num_classes=0): what the seeds' table (11.174M, ...) approximates.
BACKBONE = {
    "resnet18": 11_176_512,
    "resnet34": 21_284_672,
    "resnet50": 23_508_032,
    "resnet101": 42_500_160,
    "resnet152": 58_143_808,
}


@pytest.mark.parametrize("name", PARAMS)
def test_parameter_counts(name):
    with torch.device("meta"):
        assert count_parameters(get_model(name)) == PARAMS[name]


@pytest.mark.parametrize("name", BACKBONE)
def test_counts_without_classifier(name):
    with torch.device("meta"):
        model = get_model(name, num_classes=0)
    assert isinstance(model.fc, nn.Identity)
    assert count_parameters(model) == BACKBONE[name]
    assert PARAMS[name] - BACKBONE[name] == linear_params(model.num_features, 1000)


def bn(c: int) -> int:
    return 2 * c


def test_basic_block_closed_form():
    same = BasicBlock(64, 64)
    assert count_parameters(same) == 2 * conv_params(64, 64, 3, bias=False) + 2 * bn(64)
    down = BasicBlock(64, 128, stride=2)
    branch = conv_params(64, 128, 3, bias=False) + conv_params(128, 128, 3, bias=False)
    projection = conv_params(64, 128, 1, bias=False) + bn(128)
    assert count_parameters(down) == branch + 2 * bn(128) + projection


def test_bottleneck_closed_form_and_stride_on_3x3():
    block = Bottleneck(256, 128, stride=2)
    expected = (conv_params(256, 128, 1, bias=False) + conv_params(128, 128, 3, bias=False)
                + conv_params(128, 512, 1, bias=False) + bn(128) * 2 + bn(512)
                + conv_params(256, 512, 1, bias=False) + bn(512))
    assert count_parameters(block) == expected
    assert block.conv1.stride == (1, 1) and block.conv2.stride == (2, 2)
    assert block(torch.randn(2, 256, 8, 8)).shape == (2, 512, 4, 4)


def test_shortcut_options_costs():
    norm = nn.BatchNorm2d
    assert isinstance(shortcut_a(16, 16, 1, norm), nn.Identity)
    assert isinstance(shortcut_b(16, 16, 1, norm), nn.Identity)
    assert count_parameters(shortcut_a(16, 32, 2, norm)) == 0
    assert count_parameters(shortcut_b(16, 32, 2, norm)) == 16 * 32 + 2 * 32
    assert count_parameters(shortcut_c(16, 16, 1, norm)) == 16 * 16 + 2 * 16


def test_zero_pad_shortcut_values():
    x = torch.randn(2, 3, 6, 6)
    y = ZeroPadShortcut(3, 5, 2)(x)
    assert y.shape == (2, 5, 3, 3)
    torch.testing.assert_close(y[:, :3], x[:, :, ::2, ::2])
    assert torch.count_nonzero(y[:, 3:]) == 0


def test_imagenet_shapes():
    model = get_model("resnet18", num_classes=7).eval()
    x = torch.randn(1, 3, 64, 64)
    assert model.stem(x).shape == (1, 64, 16, 16)
    assert model(x).shape == (1, 7)
    assert model.forward_features(x).shape == (1, 512)


def test_cifar_depths_and_shapes():
    model = cifar_resnet(20).eval()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert len(convs) + 1 == 20   # 6n+2 weighted layers: option A adds no convs
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(ValueError, match="6n\\+2"):
        cifar_resnet(21)


def test_zero_init_residual_gives_relu_identity():
    torch.manual_seed(0)
    for name, channels in (("resnet18", 64), ("resnet50", 256)):
        model = get_model(name, zero_init_residual=True).eval()
        block = model.stages[0][1]     # an identity-shortcut block
        x = torch.randn(2, channels, 8, 8)
        torch.testing.assert_close(block(x), torch.relu(x))
    plain = get_model("resnet18").eval().stages[0][1]
    assert not torch.allclose(plain(x[:, :64]), torch.relu(x[:, :64]))


def test_squeeze_excitation():
    se = SqueezeExcitation(64, reduction=16)
    assert count_parameters(se) == linear_params(64, 4) + linear_params(4, 64)
    x = torch.randn(2, 64, 5, 5)
    y = se(x)
    ratio = y / x
    # one gate in (0, 1) per sample and channel, constant over space
    assert torch.allclose(ratio, ratio[:, :, :1, :1].expand_as(ratio), atol=1e-5)
    assert ((ratio > 0) & (ratio < 1)).all()


def test_stochastic_depth():
    assert drop_probs(4, 0.5) == [0.125, 0.25, 0.375, 0.5]
    layer = StochasticDepth(0.5)
    x = torch.ones(3, 2)
    torch.manual_seed(0)
    kept = [bool(layer(x).sum()) for _ in range(200)]
    assert 60 < sum(kept) < 140           # about half the batches keep the branch
    layer.eval()
    torch.testing.assert_close(layer(x), 0.5 * x)
    model = get_model("cifar_resnet20", stochastic_depth=0.5)
    assert model.stages[-1][-1].extras[0].p == 0.5


def test_preact_block_is_identity_path():
    block = PreActBasicBlock(8, 8)
    nn.init.zeros_(block.conv2.weight)    # branch off: the block passes x through unchanged
    x = torch.randn(2, 8, 5, 5)           # negatives too: no ReLU after the addition
    torch.testing.assert_close(block(x), x)


def test_resnext_group_width_and_wide_width():
    with torch.device("meta"):
        resnext = get_model("resnext50_32x4d")
        wide = get_model("wide_resnet50_2")
    first = resnext.stages[0][0]
    assert first.conv2.groups == 32 and first.conv2.in_channels == 128
    assert wide.stages[0][0].conv2.in_channels == 128
    assert wide.stages[0][0].conv3.out_channels == 256


def test_preact_imagenet_counts():
    """No BN+ReLU after the stem conv (-128), one BN before the pooling (+2 * final width)."""
    with torch.device("meta"):
        assert count_parameters(ResNet(PreActBasicBlock, RESNET_LAYERS[18])) == 11_687_720
        assert count_parameters(ResNet(PreActBottleneck, RESNET_LAYERS[50])) == 25_549_352


def test_cifar_preact_and_wide_structure():
    with torch.device("meta"):
        wrn = wide_cifar_resnet(28, 10)
        r164 = preact_cifar_resnet(164)
    assert wrn.stem[0].out_channels == 16 and len(wrn.stem) == 1   # bare 16-channel stem
    assert [len(stage) for stage in wrn.stages] == [4, 4, 4]
    assert [stage[-1].conv2.out_channels for stage in wrn.stages] == [160, 320, 640]
    assert [stage[-1].conv3.out_channels for stage in r164.stages] == [64, 128, 256]
    assert isinstance(wrn.final_act[0], nn.BatchNorm2d)
    with pytest.raises(ValueError, match="6n\\+4"):
        wide_cifar_resnet(27, 10)
    with pytest.raises(ValueError, match="9n\\+2"):
        preact_cifar_resnet(21)


def test_zero_init_residual_for_every_block_kind():
    """Pre-activation blocks end on a conv: zeroing it makes the block the identity."""
    torch.manual_seed(0)
    x = torch.randn(2, 32, 6, 6)
    for block in (PreActBasicBlock(32, 32), PreActBottleneck(32, 8)):
        block.zero_init_last()
        torch.testing.assert_close(block.eval()(x), x)
    model = wide_cifar_resnet(10, 2, zero_init_residual=True).eval()
    torch.testing.assert_close(model.stages[1][0].conv2.weight.abs().sum().item(), 0.0)
    with pytest.raises(ValueError, match="plain block"):
        cifar_resnet(8, block=PlainBlock, zero_init_residual=True)
