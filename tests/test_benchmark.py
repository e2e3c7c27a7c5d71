"""Latency measurement, the Pareto front, the models compared and their published accuracies."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
import torch
from torch import nn

from cnncourse.analysis import count_parameters, layer_table
from cnncourse.analysis.benchmark import (
    MIN_BLOCKS,
    build_for_timing,
    fixed_threads,
    imagenet_models,
    input_resolution,
    measure_latency,
    measure_model,
    meta_costs,
    model_costs,
    model_family,
    pareto_front,
)
from cnncourse.analysis.published import PUBLISHED_TOP1, TORCHVISION, published_top1
from cnncourse.models import get_model, list_models
from cnncourse.models.efficientnet import EFFICIENTNET_VARIANTS

ROOT = Path(__file__).resolve().parents[1]


class Sleeper(nn.Module):
    """A model whose forward pass takes a known time: ``first`` seconds the first time (the
    one-off cost a warm-up absorbs), ``each`` seconds afterwards."""

    def __init__(self, each: float, first: float) -> None:
        super().__init__()
        self.each, self.first, self.calls = each, first, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(self.first if self.calls == 0 else self.each)
        self.calls += 1
        return x


def test_latency_is_the_median_in_seconds_after_a_warm_up():
    model = Sleeper(each=0.02, first=0.3)
    latency = measure_latency(model, torch.zeros(4, 3), min_run_time=0.1)
    # the slow first call was not timed: every timed call is near 0.02 s, not 0.3 s
    assert 0.02 <= latency.median < 0.1
    assert max(latency.times) < 0.3
    assert model.calls > len(latency.times) >= 3
    assert latency.batch_size == 4
    assert latency.per_image == pytest.approx(latency.median / 4)
    assert latency.images_per_second == pytest.approx(4 / latency.median)


def test_latency_times_several_blocks_even_when_one_call_outlasts_min_run_time():
    model = Sleeper(each=0.03, first=0.03)
    latency = measure_latency(model, torch.zeros(1), min_run_time=0.01)
    # blocked_autorange would time a single block here: a "median" of one
    assert len(latency.times) >= MIN_BLOCKS >= 3
    assert model.calls == len(latency.times) + 1  # one untimed warm-up call
    assert latency.median >= 0.03


def test_latency_fixes_the_threads_and_restores_them():
    seen = []

    class Threads(nn.Module):
        def forward(self, x):
            seen.append(torch.get_num_threads())
            return x

    before = torch.get_num_threads()
    measure_latency(Threads(), torch.zeros(1), threads=1, min_run_time=0.01)
    assert set(seen) == {1}
    assert torch.get_num_threads() == before
    with fixed_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


def test_latency_runs_without_autograd_in_eval_mode():
    model = nn.Sequential(nn.Linear(3, 3), nn.Dropout(0.5)).train()
    modes, grads = [], []
    model.register_forward_hook(lambda m, i, o: (modes.append(m.training),
                                                 grads.append(o.requires_grad)))
    measure_latency(model, torch.ones(2, 3), min_run_time=0.01)
    assert set(modes) == {False} and set(grads) == {False}


def test_pareto_front_keeps_the_points_nothing_beats():
    costs = [1.0, 2.0, 2.0, 3.0, 4.0, 4.0]
    scores = [60.0, 70.0, 65.0, 70.0, 80.0, 80.0]
    # (2, 65) loses to (2, 70); (3, 70) loses to (2, 70); the two (4, 80) are both kept
    assert pareto_front(costs, scores) == [0, 1, 4, 5]
    assert pareto_front([5.0], [1.0]) == [0]
    assert pareto_front([], []) == []
    with pytest.raises(ValueError, match="one of each"):
        pareto_front([1.0, 2.0], [3.0])


def test_pareto_front_sorts_by_cost():
    assert pareto_front([3.0, 1.0, 2.0], [90.0, 50.0, 70.0]) == [1, 2, 0]


def test_imagenet_models_are_the_imagenet_classifiers():
    names = imagenet_models()
    assert {"googlenet", "mobilenet_v2", "shufflenet_v2_x1_0", "vgg16", "convnext_tiny"} <= set(
        names)
    assert not [n for n in names if "cifar" in n or n.startswith("lenet") or n == "neocognitron"]
    assert set(names) < set(list_models())


def test_families_are_the_model_files():
    assert [model_family(n) for n in ("resnet50", "googlenet", "vgg16_bn", "mobilenet_v2")] == [
        "resnet", "inception", "vgg", "mobilenet"]
    assert model_family("inception_v3") == "inception"  # wherever its file is
    with pytest.raises(KeyError, match="list_models"):
        model_family("not_a_model")


@pytest.mark.parametrize("name", ["alexnet", "inception_v3", "efficientnet_b3", "resnet18"])
def test_input_resolution_is_the_one_the_model_needs(name):
    size = input_resolution(name)
    if name.startswith("efficientnet"):
        assert size == EFFICIENTNET_VARIANTS[name.split("_")[1]].resolution
    with torch.device("meta"):
        model = get_model(name).eval()
        assert model(torch.empty(1, 3, size, size)).shape == (1, 1000)


def test_alexnet_needs_227():
    with torch.device("meta"), pytest.raises(RuntimeError):
        get_model("alexnet").eval()(torch.empty(1, 3, 224, 224))


def test_build_for_timing_gives_a_zeroed_model_in_eval_mode():
    model = build_for_timing("shufflenet_v2_x0_5")
    assert not model.training
    assert all(not t.is_meta and not t.any() for t in [*model.parameters(), *model.buffers()])


def test_measure_model_reports_the_layer_table_costs():
    costs = measure_model("shufflenet_v2_x0_5", batch_sizes=(1, 2), min_run_time=0.01)
    table = layer_table(build_for_timing("shufflenet_v2_x0_5"), (3, 224, 224))
    assert costs.params == count_parameters(get_model("shufflenet_v2_x0_5")) == table.total_params
    assert (costs.macs, costs.activation_bytes) == (table.total_macs,
                                                    table.total_activation_bytes)
    assert costs.family == "shufflenet" and costs.resolution == 224
    assert sorted(costs.latency) == [1, 2] and costs.latency[2].batch_size == 2
    assert costs.param_bytes == 4 * costs.params
    static = model_costs("shufflenet_v2_x0_5")
    assert (static.params, static.macs, static.activation_bytes, static.latency) == (
        costs.params, costs.macs, costs.activation_bytes, {})
    again = measure_model("shufflenet_v2_x0_5", (1,), min_run_time=0.01, costs=static)
    assert again is static and sorted(static.latency) == [1]


class TwiceAndTuple(nn.Module):
    """A module that runs one layer twice and has a leaf returning a tuple."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)
        self.pool = nn.MaxPool2d(2, return_indices=True)  # returns (values, indices)
        self.head = nn.Linear(12, 2)
        self.scale = nn.Parameter(torch.ones(1))  # held by a non-leaf module

    def forward(self, x):
        x = self.conv(self.conv(x)) * self.scale  # (1, 3, 4, 4)
        x, _ = self.pool(x)  # (1, 3, 2, 2)
        return self.head(x.flatten(1) @ torch.eye(12))  # a MAC outside any leaf


@pytest.mark.parametrize("build", [TwiceAndTuple, lambda: get_model("googlenet")])
def test_meta_costs_equal_the_layer_table_totals(build):
    shape = (3, 4, 4) if build is TwiceAndTuple else (3, 64, 64)
    model = build()
    table = layer_table(model, shape)
    with torch.device("meta"):
        meta_model = build()
    assert meta_costs(meta_model, shape) == (table.total_params, table.total_macs,
                                             table.total_activation_bytes)
    assert meta_model.training  # the mode is put back


def test_published_accuracies_name_registered_models_and_cited_sources():
    bib = (ROOT / "references.bib").read_text(encoding="utf-8")
    keys = set(re.findall(r"^@\w+\{([^,]+),", bib, flags=re.MULTILINE))
    assert set(PUBLISHED_TOP1) <= set(imagenet_models())
    for name, entry in PUBLISHED_TOP1.items():
        assert entry.source in keys | {TORCHVISION}, f"{name}: {entry.source} is not cited"
        assert 50 < entry.top1 < 90, name
        assert entry.where and entry.protocol
    assert published_top1("resnet50") == 76.13
    assert published_top1("nin") is None
    assert published_top1("convnextv2_atto") == 76.7  # the authors' ImageNet-1K table
    assert PUBLISHED_TOP1["convnextv2_huge"].protocol == "1 crop, fine-tuned"


def test_published_accuracies_follow_known_orderings():
    # deeper members of a family are more accurate, as every paper's table shows
    for family in (["vgg11", "vgg13", "vgg16", "vgg19"], ["resnet18", "resnet34", "resnet50",
                                                          "resnet101", "resnet152"],
                   [f"efficientnet_b{i}" for i in range(8)],
                   [f"convnextv2_{s}" for s in ("atto", "femto", "pico", "nano", "tiny",
                                                "base", "large", "huge")]):
        tops = [published_top1(n) for n in family]
        assert tops == sorted(tops), family


def test_one_representative_per_family():
    from cnncourse.analysis.benchmark import REPRESENTATIVES

    families = {model_family(n) for n in imagenet_models()}
    assert set(REPRESENTATIVES) == families
    assert all(model_family(name) == family for family, name in REPRESENTATIVES.items())


def test_the_published_table_docstring_names_every_model_left_out():
    import cnncourse.analysis.published as published

    doc = " ".join(published.__doc__.split())
    for name in imagenet_models():
        if name not in PUBLISHED_TOP1:
            assert f"``{name}``" in doc, f"{name} has no entry and the docstring does not say why"
