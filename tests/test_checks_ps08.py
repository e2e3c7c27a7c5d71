"""Problem set 8 (comparing and reusing networks): what its checkers hold true.

The generic problem-set tests (the nbgrader contract, the source passing, every mutant losing
exactly its cells, the release losing everything) run for every assignment in
test_problem_sets.py.
"""

from __future__ import annotations

import statistics
import time

import pytest
import torch

from cnncourse.analysis.benchmark import pareto_front
from cnncourse.checks import ps08
from cnncourse.interpret import saliency_map
from cnncourse.transfer import freeze, layerwise_param_groups
from tests.problem_sets import solutions

ASSIGNMENT = "ps08_compare"


@pytest.fixture(scope="module")
def answers() -> dict:
    return solutions(ASSIGNMENT)


def test_each_checker_prints_one_line(answers, capsys):
    checks = [
        (ps08.check_measure_latency, (answers["measure_latency"],), "measure_latency"),
        (ps08.check_pareto_front, (answers["pareto_front"],), "pareto_front"),
        (ps08.check_saliency_map, (answers["saliency_map"],), "saliency_map"),
        (ps08.check_freeze, (answers["freeze"],), "freeze"),
        (ps08.check_param_groups, (answers["layerwise_param_groups"],
                                   answers["fine_tune_optimizer"]), "layerwise_param_groups"),
    ]
    for check, args, name in checks:
        check(*args, hidden=True)
        lines = capsys.readouterr().out.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"\u2713 {name}")


def test_the_fake_clock_replaces_every_clock_and_puts_them_back():
    originals = [getattr(module, attr) for module, attr, _ in ps08.CLOCKS]
    clock = ps08.FakeClock()
    namespace = {"perf_counter": time.perf_counter}
    exec("def f():\n    return perf_counter()", namespace)
    with ps08.fake_clocks(clock, namespace["f"]):
        clock.now = 12.5
        assert time.perf_counter() == time.monotonic() == namespace["f"]() == 12.5
        assert time.perf_counter_ns() == 12_500_000_000
    assert [getattr(module, attr) for module, attr, _ in ps08.CLOCKS] == originals
    assert namespace["perf_counter"] is time.perf_counter


def test_timed_model_takes_the_scheduled_times():
    clock = ps08.FakeClock()
    model = ps08.TimedModel(clock, warmup=2, durations=[0.1, 0.3])
    steps = []
    for _ in range(5):
        before = clock.now
        model(torch.zeros(1))
        steps.append(round(clock.now - before, 9))
    w = ps08.TimedModel.WARMUP_SECONDS
    assert steps == [w, w, 0.1, 0.3, w]


def test_latency_cases_tell_the_median_from_the_mean():
    for _, durations in ps08.LATENCY_CASES + ps08.LATENCY_HIDDEN:
        if len(durations) > 2:
            assert abs(statistics.median(durations) - statistics.fmean(durations)) > 1e-3


def test_latency_checker_accepts_a_solution_reading_time_time(answers):
    def with_time_time(model, x, warmup=2, repeats=5):
        for _ in range(warmup):
            model(x)
        times = []
        for _ in range(repeats):
            start = time.time()
            model(x)
            times.append(time.time() - start)
        return sorted(times)[len(times) // 2]

    ps08.check_measure_latency(with_time_time, hidden=True)


def test_pareto_reference_is_the_package_front_in_index_order():
    for costs, scores in ps08.PARETO_CASES + ps08.PARETO_HIDDEN:
        assert ps08.reference_pareto(costs, scores) == sorted(pareto_front(costs, scores))
    assert ps08.reference_pareto([1.0, 1.0, 1.0], [5.0, 5.0, 5.0]) == [0, 1, 2]


def test_pareto_cases_hold_ties_that_only_strict_domination_keeps():
    tied = [(c, s) for costs, scores in ps08.PARETO_CASES
            for c, s in zip(costs, scores, strict=True)]
    assert len(tied) > len(set(tied))


def test_saliency_cases_differ_between_train_and_eval_mode():
    for seed, shape, target in ps08.SALIENCY_CASES:
        model = ps08._saliency_net(seed)
        images = torch.randn(shape, generator=torch.Generator().manual_seed(seed + 10))
        target = torch.tensor(target) if isinstance(target, list) else target
        eval_map = saliency_map(model, images, target)
        model.train()
        torch.manual_seed(0)
        x = images.clone().requires_grad_(True)
        t = torch.as_tensor(target).reshape(-1).expand(shape[0])
        grad, = torch.autograd.grad(model(x).gather(1, t[:, None]).sum(), x)
        assert not torch.allclose(grad.abs().amax(1), eval_map, atol=1e-4)


def test_saliency_checker_refuses_the_reference():
    with pytest.raises(AssertionError, match="must be your own code"):
        ps08.check_saliency_map(saliency_map)


def test_saliency_checker_names_a_mean_over_channels(answers):
    def mean_over_channels(model, images, target):
        model.eval()
        x = images.clone().requires_grad_(True)
        t = torch.as_tensor(target).reshape(-1).expand(x.shape[0])
        grad, = torch.autograd.grad(model(x).gather(1, t[:, None]).sum(), x)
        return grad.abs().mean(dim=1)

    with pytest.raises(AssertionError, match="not the mean"):
        ps08.check_saliency_map(mean_over_channels)


def test_freeze_checker_refuses_the_reference_and_names_a_weight_change(answers):
    with pytest.raises(AssertionError, match="must be your own code"):
        ps08.check_freeze(freeze)

    def freeze_and_zero(module):
        for p in module.parameters():
            p.requires_grad_(False)
            p.data.zero_()
        return module

    with pytest.raises(AssertionError, match="never the weights"):
        ps08.check_freeze(freeze_and_zero)


def test_param_groups_reference_gives_the_last_stage_base_lr():
    stages = list(ps08._backbone(0))
    groups = layerwise_param_groups(stages, 0.1, 0.5)
    assert [g["lr"] for g in groups] == [0.025, 0.05, 0.1]
    for p in stages[0].parameters():
        p.requires_grad_(False)
    assert [g["lr"] for g in layerwise_param_groups(stages, 0.1, 0.5)] == [0.05, 0.1]


def test_param_groups_checker_names_an_empty_group(answers):
    def keeps_empty(stages, base_lr, decay):
        last = len(stages) - 1
        return [{"params": [p for p in s.parameters() if p.requires_grad],
                 "lr": base_lr * decay ** (last - i)} for i, s in enumerate(stages)]

    with pytest.raises(AssertionError, match="no empty groups"):
        ps08.check_param_groups(keeps_empty, answers["fine_tune_optimizer"])


def test_param_groups_checker_wants_an_optimizer(answers):
    def returns_groups(stages, n_frozen, base_lr, decay):
        for stage in stages[:n_frozen]:
            answers["freeze"](stage)
        return answers["layerwise_param_groups"](stages, base_lr, decay)

    with pytest.raises(AssertionError, match="torch.optim.SGD"):
        ps08.check_param_groups(answers["layerwise_param_groups"], returns_groups)


def test_checkers_leave_the_global_seed_and_threads_alone(answers):
    threads = torch.get_num_threads()
    torch.manual_seed(1234)
    expected = torch.rand(3)
    torch.manual_seed(1234)
    ps08.check_pareto_front(answers["pareto_front"])
    ps08.check_measure_latency(answers["measure_latency"])
    ps08.check_saliency_map(answers["saliency_map"], hidden=True)
    ps08.check_freeze(answers["freeze"], hidden=True)
    ps08.check_param_groups(answers["layerwise_param_groups"], answers["fine_tune_optimizer"])
    assert torch.equal(torch.rand(3), expected)
    assert torch.get_num_threads() == threads


def test_visible_cases_catch_the_likely_copy_and_counting_mistakes():
    # a visible Pareto case whose front in cost order is not in index order (the book's
    # benchmark.pareto_front sorts by cost; the problem set asks for index order)
    assert any(pareto_front(costs, scores) != sorted(pareto_front(costs, scores))
               for costs, scores in ps08.PARETO_CASES)
    # a visible parameter-group case with a frozen stage between two trainable ones
    assert any(frozen and max(frozen) < 2 and 0 not in frozen
               for _, frozen, _, _ in ps08.GROUP_CASES)
    # a visible saliency case where the predicted class is not the target
    for seed, shape, target in ps08.SALIENCY_CASES:
        model = ps08._saliency_net(seed).eval()
        images = ps08.randn(shape, seed + 10)
        predicted = model(images).argmax(1)
        assert (predicted != torch.as_tensor(target).expand(shape[0])).any()


def test_latency_checker_names_the_minimum_and_the_total(answers):
    def fastest(model, x, warmup=2, repeats=5):
        for _ in range(warmup):
            model(x)
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            model(x)
            times.append(time.perf_counter() - start)
        return min(times)

    with pytest.raises(AssertionError, match="fastest call"):
        ps08.check_measure_latency(fastest)
