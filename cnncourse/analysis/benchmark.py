"""Comparing architectures by cost: CPU latency, the Pareto front, and the models to compare.

Latency is measured with ``torch.utils.benchmark.Timer.adaptive_autorange``:

- threads fixed: the timer sets ``torch.set_num_threads(threads)`` for the measurement and
  restores the previous value afterwards;
- warm-up: the timer first runs the statement untimed to choose how many calls to time
  together (a block), which also pays the one-off costs (memory allocation, choosing the
  convolution algorithm for these shapes) before any timed call;
- median: blocks are timed until there are at least four of them and ``min_run_time``
  seconds of timed calls, and summarised by their median, which one slow block (another
  process taking the core) moves far less than the mean. (``blocked_autorange`` would stop
  after ONE block when a single call takes longer than ``min_run_time``: a "median" of one.
  ``adaptive_autorange`` always times at least four; its early stop on a small spread is
  switched off (``threshold=inf``) so that the time a measurement takes is predictable);
- seconds: everything is in seconds per call of the model on one batch.

Canziani, Paszke and Culurciello (2016, arXiv:1605.07678) is the model for the comparison:
accuracy against operations, against throughput, and time against batch size.
"""

from __future__ import annotations

import fnmatch
import math
import os
import platform
import statistics
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn
from torch.utils import benchmark
from torch.utils.flop_counter import FlopCounterMode

from cnncourse.analysis.layers import count_parameters
from cnncourse.models import get_model, list_models
from cnncourse.models.efficientnet import EFFICIENTNET_VARIANTS

# Registered models that are not ImageNet classifiers (CIFAR-10, MNIST, the Neocognitron).
NOT_IMAGENET: tuple[str, ...] = ("cifar_*", "*_cifar", "lenet*", "neocognitron")

# Input sizes other than 224x224, from the papers (EfficientNet's come from its variant table).
INPUT_RESOLUTION: dict[str, int] = {
    "alexnet": 227,        # (227 - 11) / 4 + 1 = 55, as the paper's figure needs
    "alexnet2012": 227,
    "inception_v3": 299,
    "xception": 299,
    **{f"efficientnet_{key}": variant.resolution for key, variant in EFFICIENTNET_VARIANTS.items()},
}


# One model per family file, the one the lectures discuss, for the timed comparison (timing
# every ImageNet model would take minutes on a laptop CPU).
REPRESENTATIVES: dict[str, str] = {
    "alexnet": "alexnet_owt",
    "vgg": "vgg16",
    "nin": "nin",
    "inception": "googlenet_bn",  # the variant whose accuracy is published
    "resnet": "resnet50",
    "densenet": "densenet121",
    "xception": "xception",
    "mobilenet": "mobilenet_v2",
    "shufflenet": "shufflenet_v2_x1_0",
    "efficientnet": "efficientnet_b0",
    "convnext": "convnext_tiny",
}


def imagenet_models() -> list[str]:
    """The registered ImageNet classifiers, sorted by name."""
    return [name for name in list_models()
            if not any(fnmatch.fnmatchcase(name, pattern) for pattern in NOT_IMAGENET)]


# Model files that hold later members of a family defined in another file.
FAMILY_OF_FILE: dict[str, str] = {
    "inception_v3": "inception",
    "preact_resnet": "resnet",
    "convnext_roadmap": "convnext",
}


def model_family(name: str) -> str:
    """The family of a registered model: the file it is defined in (``"resnet"`` for
    ``"resnet50"``), or the family that file continues (``FAMILY_OF_FILE``)."""
    for module_name, module in list(sys.modules.items()):
        builder = getattr(module, name, None) if module_name.startswith(
            "cnncourse.models.") else None
        if callable(builder) and getattr(builder, "__module__", None) == module_name:
            file = module_name.rsplit(".", 1)[1]
            return FAMILY_OF_FILE.get(file, file)
    raise KeyError(f"no family module defines a model named {name!r}; see list_models()")


def input_resolution(name: str) -> int:
    """The input height (= width) a registered ImageNet model is meant for."""
    return INPUT_RESOLUTION.get(name, 224)


def build_for_timing(model: str | nn.Module, **kwargs) -> nn.Module:
    """A registered model (by name, or already built on the meta device) in eval mode, with
    all weights and buffers zero.

    The model is built on the meta device (no memory, no random initialisation) and then given
    real, zeroed CPU storage: a dense convolution does the same work whatever the weights
    hold, and zeros cannot be denormal numbers (which some CPUs process far more slowly).
    """
    if isinstance(model, str):
        with torch.device("meta"):
            model = get_model(model, **kwargs)
    model = model.to_empty(device="cpu")
    with torch.no_grad():
        for tensor in [*model.parameters(), *model.buffers()]:
            tensor.zero_()
    return model.eval()


@contextmanager
def fixed_threads(threads: int) -> Iterator[None]:
    """Run the block with ``torch.set_num_threads(threads)``, then restore the old value."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


# The fewest timed blocks ``adaptive_autorange`` collects (its stop test needs more than 3).
MIN_BLOCKS = 4


@dataclass(frozen=True)
class Latency:
    """One latency measurement: seconds per call of a model on a batch of ``batch_size``.

    times: seconds per call of each timed block (a block may hold several calls).
    """

    batch_size: int
    threads: int
    times: tuple[float, ...]

    @property
    def median(self) -> float:
        """Median seconds per call (per batch)."""
        return statistics.median(self.times)

    @property
    def per_image(self) -> float:
        """Median seconds per image."""
        return self.median / self.batch_size

    @property
    def images_per_second(self) -> float:
        return self.batch_size / self.median


def measure_latency(model: nn.Module, inputs: torch.Tensor, *, threads: int = 1,
                    min_run_time: float = 0.2) -> Latency:
    """Time ``model(inputs)`` in eval mode without autograd; see the module docstring.

    min_run_time: seconds of timed calls to collect at least; however long a call takes,
    at least ``MIN_BLOCKS`` blocks are timed, after the warm-up.
    """
    model.eval()

    def forward() -> None:
        with torch.no_grad():
            model(inputs)

    timer = benchmark.Timer(stmt="forward()", globals={"forward": forward},
                            num_threads=threads, label=type(model).__name__,
                            sub_label=f"batch {inputs.shape[0]}")
    # at least MIN_BLOCKS blocks and min_run_time s; never stops early (threshold=inf)
    measurement = timer.adaptive_autorange(threshold=math.inf,
                                           min_run_time=min_run_time, max_run_time=None)
    return Latency(batch_size=int(inputs.shape[0]), threads=threads,
                   times=tuple(measurement.times))


def pareto_front(costs: Sequence[float], scores: Sequence[float]) -> list[int]:
    """Indices of the points no other point dominates, by increasing cost.

    Point j dominates point i when it costs no more and scores no less, and is strictly
    better in at least one of the two (so two identical points are both on the front).
    """
    if len(costs) != len(scores):
        raise ValueError(f"{len(costs)} costs but {len(scores)} scores; pass one of "
                         "each per model")
    points = list(zip(costs, scores, strict=True))

    def dominated(i: int) -> bool:
        cost, score = points[i]
        return any(c <= cost and s >= score and (c < cost or s > score)
                   for c, s in points)

    return sorted((i for i in range(len(points)) if not dominated(i)),
                  key=lambda i: (costs[i], -scores[i]))


@dataclass
class ModelCosts:
    """What the comparison table shows for one model: static costs at its input size (one
    image) and the latencies measured, by batch size."""

    name: str
    family: str
    resolution: int
    params: int
    macs: int
    activation_bytes: int
    latency: dict[int, Latency] = field(default_factory=dict)

    @property
    def param_bytes(self) -> int:
        return 4 * self.params  # float32


def _output_tensors(output) -> list[torch.Tensor]:
    """The tensors in a module's output (a tensor, or a tuple / list / dict of them)."""
    if isinstance(output, torch.Tensor):
        return [output]
    if isinstance(output, dict):
        output = list(output.values())
    if isinstance(output, list | tuple):
        return [t for item in output for t in _output_tensors(item)]
    return []


def meta_costs(model: nn.Module, input_shape: tuple[int, ...]) -> tuple[int, int, int]:
    """(parameters, MACs, activation bytes) of one example, as ``layer_table`` totals them,
    from a forward pass on the ``meta`` device: shapes only, no arithmetic, no memory.

    ``layer_table`` needs real tensors; for a model as large as VGG-16 its forward pass costs
    as much as a timed one, which a page with a time budget cannot spend twice.
    """
    leaves = [m for m in model.modules() if not any(True for _ in m.children())]
    activation_bytes = 0

    def count(_module, _inputs, output) -> None:
        nonlocal activation_bytes
        activation_bytes += sum(t.numel() * t.element_size() for t in _output_tensors(output))

    handles = [leaf.register_forward_hook(count) for leaf in leaves]
    was_training = {m: m.training for m in model.modules()}
    try:
        model.eval()
        with torch.no_grad(), FlopCounterMode(display=False) as counter:
            model(torch.empty((1, *input_shape), device="meta"))
    finally:
        for handle in handles:
            handle.remove()
        for module, training in was_training.items():
            module.training = training
    return count_parameters(model), counter.get_total_flops() // 2, activation_bytes


def model_costs(name: str) -> ModelCosts:
    """Parameters, MACs and activation memory (``meta_costs``) of one image at the model's
    input size, on the meta device: no latency yet, and well under a second a model."""
    size = input_resolution(name)
    with torch.device("meta"):
        meta_model = get_model(name)
    params, macs, activation_bytes = meta_costs(meta_model, (3, size, size))
    return ModelCosts(name=name, family=model_family(name), resolution=size, params=params,
                      macs=macs, activation_bytes=activation_bytes)


def measure_model(name: str, batch_sizes: Sequence[int] = (1,), *, threads: int = 1,
                  min_run_time: float = 0.2, costs: ModelCosts | None = None) -> ModelCosts:
    """The static costs (``model_costs``, or ``costs`` if already computed: its latencies are
    filled in), then the latency at each batch size (``measure_latency``)."""
    costs = costs if costs is not None else model_costs(name)
    model = build_for_timing(name)
    size = costs.resolution
    for batch in batch_sizes:
        inputs = torch.zeros(batch, 3, size, size)
        costs.latency[batch] = measure_latency(model, inputs, threads=threads,
                                               min_run_time=min_run_time)
    return costs


def cpu_name() -> str:
    """The processor's model name (from /proc/cpuinfo on Linux), else what platform knows."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_description(threads: int) -> dict[str, str]:
    """What a reader needs to compare their timings with the book's."""
    return {
        "cpu": cpu_name(),
        "cores": str(os.cpu_count()),
        "threads": str(threads),
        "platform": platform.platform(terse=True),
        "python": platform.python_version(),
        "torch": torch.__version__,
    }
