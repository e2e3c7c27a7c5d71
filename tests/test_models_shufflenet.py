"""ShuffleNet V2 (counts, the channel shuffle, the units) and Xception (count, shapes)."""

from __future__ import annotations

import pytest
import torch

from cnncourse.analysis import count_parameters
from cnncourse.models import get_model
from cnncourse.models.shufflenet import ShuffleUnit, channel_shuffle
from cnncourse.models.xception import SeparableConv2d


@pytest.mark.parametrize("name, count", [("shufflenet_v2_x1_0", 2_278_604),
                                         ("shufflenet_v2_x0_5", 1_366_792),
                                         ("xception", 22_855_952)])
def test_parameter_counts(name, count):
    with torch.device("meta"):
        assert count_parameters(get_model(name)) == count


def test_channel_shuffle_interleaves_groups():
    x = torch.arange(6.0).view(1, 6, 1, 1)
    assert channel_shuffle(x, 2).flatten().tolist() == [0, 3, 1, 4, 2, 5]
    assert channel_shuffle(x, 3).flatten().tolist() == [0, 2, 4, 1, 3, 5]
    with pytest.raises(ValueError, match="groups"):
        channel_shuffle(x, 4)


def test_stride_one_unit_keeps_half_the_channels_untouched():
    torch.manual_seed(0)
    unit = ShuffleUnit(8, 8, 1).eval()
    x = torch.randn(1, 8, 5, 5)
    out = unit(x)
    # after the shuffle the untouched half sits at the even channels
    assert torch.equal(out[:, 0::2], x[:, :4])
    assert ShuffleUnit(8, 16, 2)(x).shape == (1, 16, 3, 3)
    with pytest.raises(ValueError, match="keeps the channels"):
        ShuffleUnit(8, 16, 1)


def test_shapes():
    with torch.device("meta"):
        net = get_model("shufflenet_v2_x1_0")
        xc = get_model("xception")
    # forward passes outside the device context, which makes every op far slower
    assert net.stages(net.stem(torch.empty(1, 3, 224, 224, device="meta"))).shape == (1, 464, 7, 7)
    x = torch.empty(1, 3, 299, 299, device="meta")
    assert xc.blocks(xc.stem(x)).shape == (1, 1024, 10, 10)
    assert xc(x).shape == (1, 1000)


def test_xception_separable_conv_has_nothing_between():
    sep = SeparableConv2d(8, 16)
    assert len(sep) == 2 and sep[0].groups == 8 and sep[1].kernel_size == (1, 1)


def test_xception_has_36_conv_layers_34_of_them_separable():
    # the paper's "36 convolutional layers": two plain 3x3 convs, then separable ones only
    # (the 1x1 convs on the shortcuts are not counted)
    with torch.device("meta"):
        xc = get_model("xception")
    separable = sum(isinstance(m, SeparableConv2d) for m in xc.modules())
    plain = sum(isinstance(m, torch.nn.Conv2d) and m.kernel_size == (3, 3) for m in xc.stem)
    assert (plain, separable) == (2, 34)
