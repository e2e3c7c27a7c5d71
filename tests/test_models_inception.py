"""Inception: GoogLeNet's Table 1 as data, the published parameter counts, the auxiliary heads
switching with training mode, the shapes through Inception v3, and batch norm and label
smoothing written out by hand against PyTorch. Models are built on the meta device."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from cnncourse.analysis import conv_params, count_parameters
from cnncourse.losses import label_smoothing_cross_entropy
from cnncourse.models import get_model
from cnncourse.models.inception import (
    GOOGLENET_DEPTH,
    GOOGLENET_TABLE1,
    GoogLeNet,
    Inception,
    InceptionSpec,
    bn_eps_0001,
)
from cnncourse.models.inception_v3 import InceptionV3
from cnncourse.normalization import batch_norm_2d

PARAMS = {
    ("googlenet", False): 6_998_552,       # the paper's network: biases, a real 5x5 branch
    ("googlenet", True): 13_378_280,
    ("googlenet_bn", False): 6_624_904,    # torchvision's googlenet
    ("googlenet_bn", True): 13_004_888,
    ("inception_v3", False): 23_834_568,
    ("inception_v3", True): 27_161_264,    # torchvision's inception_v3
}


def build(name: str, aux: bool) -> nn.Module:
    with torch.device("meta"):
        return get_model(name, aux_logits=aux)


@pytest.mark.parametrize(("name", "aux"), PARAMS)
def test_parameter_counts(name, aux):
    assert count_parameters(build(name, aux)) == PARAMS[(name, aux)]


def test_table1_output_channels():
    outs = {name: spec.out_channels for name, spec in GOOGLENET_TABLE1.items()}
    assert outs == {"3a": 256, "3b": 480, "4a": 512, "4b": 512, "4c": 512, "4d": 528,
                    "4e": 832, "5a": 832, "5b": 1024}


def weighted_depth(module: nn.Module) -> int:
    """Convs and FCs along the deepest path: sequences add up, parallel branches take the
    deepest, auxiliary heads are left out (the chapter counts the same way)."""
    if isinstance(module, nn.Conv2d | nn.Linear):
        return 1
    depths = [weighted_depth(m) for name, m in module.named_children()
              if not name.startswith("aux")]
    if isinstance(module, nn.Sequential | GoogLeNet | InceptionV3):
        return sum(depths)
    return max(depths, default=0)


def test_depths_along_the_deepest_path():
    assert GOOGLENET_DEPTH == 22 == weighted_depth(build("googlenet", True))
    assert weighted_depth(build("inception_v3", True)) == 48   # the paper says "42 layers"


@pytest.mark.parametrize(("name", "kernel"), [("googlenet", 3), ("googlenet_bn", 2)])
def test_pool_after_4e(name, kernel):
    # Table 1 has 3x3/2; torchvision's googlenet has 2x2/2. Both give 7x7 at 224.
    model = build(name, False)
    pool = model.inception4e[1]
    assert isinstance(pool, nn.MaxPool2d) and pool.kernel_size == kernel and pool.stride == 2
    assert tuple(pool(torch.empty(1, 832, 14, 14, device="meta")).shape) == (1, 832, 7, 7)


def module_params_by_hand(c_in: int, s: InceptionSpec, k: int = 5) -> int:
    return (conv_params(c_in, s.ch1x1, 1) + conv_params(c_in, s.ch3x3red, 1)
            + conv_params(s.ch3x3red, s.ch3x3, 3) + conv_params(c_in, s.ch5x5red, 1)
            + conv_params(s.ch5x5red, s.ch5x5, k) + conv_params(c_in, s.pool_proj, 1))


def test_module_3a_counts_and_shape():
    spec = GOOGLENET_TABLE1["3a"]
    with torch.device("meta"):
        module = Inception(192, spec)
        y = module(torch.empty(2, 192, 28, 28))
    assert count_parameters(module) == module_params_by_hand(192, spec) == 163_696
    assert tuple(y.shape) == (2, 256, 28, 28)


def test_branches_are_concatenated_in_order():
    torch.manual_seed(0)
    module = Inception(8, (2, 3, 4, 1, 5, 6)).eval()
    x = torch.randn(1, 8, 6, 6)
    y = module(x)
    parts = [module.branch1(x), module.branch2(x), module.branch3(x), module.branch4(x)]
    assert torch.equal(y, torch.cat(parts, dim=1)) and y.shape[1] == 2 + 4 + 5 + 6


@pytest.mark.parametrize("name", ["googlenet", "googlenet_bn"])
def test_aux_heads_only_in_training(name):
    model = build(name, True)
    x = torch.empty(2, 3, 224, 224, device="meta")
    outputs = model.train()(x)
    assert isinstance(outputs, tuple) and [tuple(o.shape) for o in outputs] == [(2, 1000)] * 3
    assert tuple(model.eval()(x).shape) == (2, 1000)


def test_googlenet_stem_reaches_28x28():
    model = build("googlenet", False)
    y = model.stem(torch.empty(1, 3, 224, 224, device="meta"))
    assert tuple(y.shape) == (1, 192, 28, 28)
    assert sum(isinstance(m, nn.LocalResponseNorm) for m in model.modules()) == 2


def test_googlenet_bn_has_no_conv_bias_and_no_lrn():
    model = build("googlenet_bn", False)
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    assert convs and all(c.bias is None for c in convs)
    assert not any(isinstance(m, nn.LocalResponseNorm) for m in model.modules())


def test_inception_v3_grids():
    model = build("inception_v3", True).train()
    x = torch.empty(2, 3, 299, 299, device="meta")
    x = model.stem(x)
    assert tuple(x.shape) == (2, 192, 35, 35)
    x = model.features17(x)
    assert tuple(x.shape) == (2, 768, 17, 17)
    assert tuple(model.aux(x).shape) == (2, 1000)
    assert tuple(model.features8(x).shape) == (2, 2048, 8, 8)


def test_small_googlenet_bn_trains_a_step():
    torch.manual_seed(0)
    model = get_model("googlenet_bn", num_classes=5, aux_logits=True)
    x, y = torch.randn(2, 3, 64, 64), torch.tensor([0, 4])
    logits, aux1, aux2 = model(x)
    loss = sum(nn.functional.cross_entropy(o, y) for o in (logits, aux1, aux2))
    loss.backward()
    assert torch.isfinite(loss) and model.fc.weight.grad.abs().sum() > 0
    assert isinstance(model.stem[0][1], nn.BatchNorm2d) and bn_eps_0001(3).eps == 0.001


@pytest.mark.parametrize("shape", [(8, 3, 5, 5), (2, 4, 1, 1), (16, 2, 3, 7)])
def test_batch_norm_2d_matches_torch_in_training_then_eval(shape):
    torch.manual_seed(0)
    bn = nn.BatchNorm2d(shape[1], momentum=0.2)
    nn.init.uniform_(bn.weight, 0.5, 2.0)
    nn.init.uniform_(bn.bias, -1.0, 1.0)
    mean, var = bn.running_mean.clone(), bn.running_var.clone()
    for _ in range(3):  # running statistics accumulate over several batches
        x = 3 * torch.randn(shape) + 1
        ours = batch_norm_2d(x, bn.weight, bn.bias, mean, var, True, momentum=0.2)
        torch.testing.assert_close(ours, bn.train()(x))
    torch.testing.assert_close((mean, var), (bn.running_mean, bn.running_var))
    x = torch.randn(shape)
    torch.testing.assert_close(batch_norm_2d(x, bn.weight, bn.bias, mean, var, False),
                               bn.eval()(x))
    torch.testing.assert_close((mean, var), (bn.running_mean, bn.running_var))


@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.3])
def test_label_smoothing_matches_torch(smoothing):
    torch.manual_seed(1)
    logits, target = torch.randn(6, 5), torch.tensor([0, 1, 2, 3, 4, 0])
    expected = nn.functional.cross_entropy(logits, target, label_smoothing=smoothing)
    torch.testing.assert_close(label_smoothing_cross_entropy(logits, target, smoothing), expected)
