"""Problem set 8 (comparing and reusing networks): what its checkers hold true.

The generic problem-set tests (the nbgrader contract, the source passing, every mutant losing
exactly its cells, the release losing everything) run for every assignment in
test_problem_sets.py.
"""

from __future__ import annotations

import random
import statistics
import time

import pytest
import torch
from torch import nn

from cnncourse.analysis.benchmark import pareto_front
from cnncourse.checks import ps08
from cnncourse.checks._core import Guard, answer_of, layers_of, made_near
from cnncourse.grading.cells import grade_id, is_solution_cell
from cnncourse.grading.mutants import apply_mutant, parse_mutant
from cnncourse.interpret import saliency_map
from cnncourse.probe.client import local_remote
from cnncourse.probe.fixtures import make
from cnncourse.probe.wire import WireError
from cnncourse.transfer import freeze, layerwise_param_groups
from tests.problem_sets import mutant_files, read_notebook, solutions

ASSIGNMENT = "ps08_compare"
SEEDS = range(20)  # hidden cases as the grader draws them


@pytest.fixture(scope="module")
def answers() -> dict:
    return solutions(ASSIGNMENT)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny networks, on a shared machine: one thread is fastest (as in the checkers)."""
    with ps08._one_thread():
        yield


def test_each_checker_prints_one_line(answers, capsys):
    checks = [
        (ps08.check_measure_latency, (answers["measure_latency"],), "measure_latency"),
        (ps08.check_pareto_front, (answers["pareto_front"],), "pareto_front"),
        (ps08.check_saliency_map, (answers["saliency_map"],), "saliency_map"),
        (ps08.check_freeze, (answers["freeze"],), "freeze"),
        (ps08.check_param_groups, (answers["layerwise_param_groups"],
                                   answers["fine_tune_optimizer"]), "layerwise_param_groups"),
        (ps08.check_measured_front, (answers["measured_front"],), "measured_front"),
    ]
    for check, args, name in checks:
        check(*args, hidden=True)
        lines = capsys.readouterr().out.splitlines()
        assert len(lines) == 1 and lines[0].startswith(f"\u2713 {name}")


# --------------------------------------------------------------------------- latency
def test_the_call_recorder_takes_its_scheduled_times_and_records_them():
    recorder = make("call_recorder", {"delays": [0.004, 0.001], "default": 0.002})
    x = torch.ones(2)
    assert all(recorder(x) is x for _ in range(3))
    took = [end - start for start, end in recorder.calls]
    assert len(took) == 3
    assert took[0] >= 0.004 and took[1] >= 0.001 and took[2] >= 0.002


def _simulated_calls(case, gap: float = 1e-5) -> list[tuple[float, float]]:
    """The recorder's record if every call took exactly its scheduled time, ``gap`` apart."""
    calls, now = [], 100.0
    for ms in [ps08.WARMUP_MS] * case.warmup + list(case.durations):
        calls.append((now, now + ms / 1000))
        now += ms / 1000 + gap
    return calls


def _reported(calls, warmup, gap=1e-5):
    """What the known ways of timing report, for the record ``calls``."""
    each = [end - start + gap for start, end in calls]  # an honest timing of each call
    timed = each[warmup:]
    return {
        "median": statistics.median(timed),
        "that is the mean": statistics.fmean(timed),
        "that is in milliseconds": 1000 * statistics.median(timed),
        "that is the total time": calls[-1][1] - calls[warmup][0] + gap,
        "that is the fastest call": min(timed),
        "the warm-up calls must not be timed": statistics.median(each),
    }


def test_latency_cases_tell_every_mistake_from_the_median():
    cases = ps08.LATENCY_CASES + [c for seed in SEEDS
                                  for c in ps08.latency_hidden(random.Random(seed))]
    for case in cases:
        assert case.warmup >= 1 and case.repeats >= 3
        assert case.durations[-1] == max(case.durations) > ps08.WARMUP_MS  # the outlier, last
        assert ps08.well_separated(case)
        calls = _simulated_calls(case)
        low, high = ps08.latency_bounds(calls, case.warmup)
        reported = _reported(calls, case.warmup)
        assert low <= reported.pop("median") <= high
        for message, value in reported.items():
            assert not low * 0.85 <= value <= high * 1.15, (case, message)
            assert message in ps08._latency_hint(value, [e - s for s, e in calls],
                                                 case.warmup), (case, message)


def test_latency_bounds_hold_an_honest_timing_however_long_the_gaps():
    case = ps08.LATENCY_CASES[0]
    for gap in (1e-6, 1e-3, 0.05):  # a busy machine stretches what lies between the calls
        calls = _simulated_calls(case, gap)
        low, high = ps08.latency_bounds(calls, case.warmup)
        each = [end - start + gap / 2 for start, end in calls]
        assert low <= statistics.median(each[case.warmup:]) <= high


def test_latency_checker_accepts_a_solution_reading_time_time():
    def with_time_time(model, x, warmup=2, repeats=5):
        for _ in range(warmup):
            model(x)
        times = []
        for _ in range(repeats):
            start = time.time()
            model(x)
            times.append(time.time() - start)
        return sorted(times)[len(times) // 2] if repeats % 2 else statistics.median(times)

    ps08.check_measure_latency(with_time_time, hidden=True)


def test_latency_checker_names_the_minimum_and_counts_the_calls():
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

    def one_more(model, x, warmup=2, repeats=5):
        model(x)
        return fastest(model, x, warmup, repeats)

    with pytest.raises(AssertionError, match="the model ran 8 times"):
        ps08.check_measure_latency(one_more)


# --------------------------------------------------------------------------- Pareto front
def test_pareto_reference_is_the_package_front_in_index_order():
    cases = ps08.PARETO_CASES + [c for seed in SEEDS
                                 for c in ps08.pareto_hidden(random.Random(seed))]
    for costs, scores in cases:
        assert len(costs) == len(scores) >= 1
        assert ps08.reference_pareto(costs, scores) == sorted(pareto_front(costs, scores))
    assert ps08.reference_pareto([1.0, 1.0, 1.0], [5.0, 5.0, 5.0]) == [0, 1, 2]


def test_pareto_cases_hold_ties_that_only_strict_domination_keeps():
    tied = [(c, s) for costs, scores in ps08.PARETO_CASES
            for c, s in zip(costs, scores, strict=True)]
    assert len(tied) > len(set(tied))


# --------------------------------------------------------------------------- saliency
def test_saliency_cases_differ_between_train_and_eval_mode():
    cases = ps08.SALIENCY_CASES + ps08.saliency_hidden(random.Random(0))
    for case in cases:
        model = case.model()
        images, target = case.images(), case.target_arg()
        eval_map = saliency_map(model, images, target)
        model.train()
        torch.manual_seed(0)
        x = images.clone().requires_grad_(True)
        t = torch.as_tensor(target).reshape(-1).expand(case.shape[0])
        grad, = torch.autograd.grad(model(x).gather(1, t[:, None]).sum(), x)
        assert not torch.allclose(grad.abs().amax(1), eval_map, atol=1e-4)


def test_saliency_draws_hold_a_target_the_model_does_not_predict():
    for seed in SEEDS:
        for case in ps08.saliency_hidden(random.Random(seed)):
            n, c, h, w = case.shape
            assert 1 <= n <= 4 and c == 3 and 4 <= h <= 10 and 4 <= w <= 10
            predicted = ps08._predicted(case.model(), case.images())
            target = torch.as_tensor(case.target).reshape(-1).expand(n)
            assert (target < case.classes).all() and (predicted != target).any()


def test_the_probe_says_which_parameters_have_a_gradient():
    model = nn.Sequential(nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    model[2](torch.ones(1, 2)).sum().backward()
    layers = layers_of(local_remote(model))
    assert {layer.name: layer.grads for layer in layers} == {
        "": (), "0": (), "1": (), "2": ("weight", "bias")}


def test_saliency_checker_refuses_the_reference():
    with pytest.raises(AssertionError, match="must be your own code"):
        ps08.check_saliency_map(saliency_map)


def test_saliency_checker_names_a_mean_over_channels():
    def mean_over_channels(model, images, target):
        model.eval()
        x = images.clone().requires_grad_(True)
        t = torch.as_tensor(target).reshape(-1).expand(x.shape[0])
        grad, = torch.autograd.grad(model(x).gather(1, t[:, None]).sum(), x)
        return grad.abs().mean(dim=1)

    with pytest.raises(AssertionError, match="not the mean"):
        ps08.check_saliency_map(mean_over_channels)


# --------------------------------------------------------------------------- freezing
def test_freeze_checker_refuses_the_reference_and_names_a_weight_change():
    with pytest.raises(AssertionError, match="must be your own code"):
        ps08.check_freeze(freeze)

    def freeze_and_zero(module):
        for p in module.parameters():
            p.requires_grad_(False)
            p.data.zero_()
        return module

    with pytest.raises(AssertionError, match="never the weights"):
        ps08.check_freeze(freeze_and_zero)


def test_freeze_checker_wants_the_module_back():
    def returns_a_copy(module):
        for p in module.parameters():
            p.requires_grad_(False)
        return nn.Sequential(*module.children()) if isinstance(module, nn.Sequential) else None

    with pytest.raises(AssertionError, match="the module itself"):
        ps08.check_freeze(returns_a_copy)


def test_backbones_cross_to_the_probe_with_every_parameter_distinct():
    backbones = [b for b, _ in ps08.FREEZE_CASES] + [c.backbone for c in ps08.GROUP_CASES] + [
        b for seed in SEEDS for b, _ in ps08.freeze_hidden(random.Random(seed))]
    for backbone in backbones:
        net = backbone.build()
        keys = [ps08._value_key(p) for p in net.parameters()]
        assert len(set(keys)) == len(keys)  # parameters can be told apart by value
        theirs = made_near(local_remote(len), ps08.module_spec(net))
        assert ps08._requires_grad(theirs) == {n: True for n, _ in net.named_parameters()}


def test_old_backbone_is_kept_for_the_visible_cases():
    net = ps08._Backbone(0).build()
    assert [type(stage).__name__ for stage in net] == ["Sequential", "Sequential", "Linear"]
    assert net[1][0].bias is None and net[2].out_features == 2


# --------------------------------------------------------------------------- param groups
def test_param_groups_reference_gives_the_last_stage_base_lr():
    stages = ps08._Backbone(0).stages()
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


def test_param_groups_checker_wants_the_parameters_themselves(answers):
    def copies(stages, base_lr, decay):
        groups = answers["layerwise_param_groups"](stages, base_lr, decay)
        return [{"params": [p.detach().clone() for p in g["params"]], "lr": g["lr"]}
                for g in groups]

    with pytest.raises(AssertionError, match=r"stage\(s\) \[-1\].*not copies"):
        ps08.check_param_groups(copies, answers["fine_tune_optimizer"])


def test_group_draws_keep_their_promises():
    for seed in SEEDS:
        cases = ps08.groups_hidden(random.Random(seed))
        n_stages = [len(c.backbone.kinds) for c in cases]
        assert all(3 <= n <= 5 for n in n_stages)
        first = cases[0]  # a frozen stage after a trainable one, two trainable stages
        trainable = set(range(n_stages[0])) - set(first.frozen)
        assert len(trainable) >= 2 and max(first.frozen) > min(trainable)
        assert cases[1].frozen == tuple(range(len(cases[1].frozen))) and cases[1].frozen
        for case in cases:
            assert len(case.frozen) < len(case.backbone.kinds)  # something left to train
            assert 0 < case.decay < 1 and 0 < case.base_lr < 1


# --------------------------------------------------------------------------- all parts
def test_checkers_leave_the_global_seed_and_threads_alone(answers):
    threads = 2  # not the one thread the checkers use
    torch.set_num_threads(threads)
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
    assert any(case.frozen and max(case.frozen) < 2 and 0 not in case.frozen
               for case in ps08.GROUP_CASES)
    # a visible saliency case where the predicted class is not the target
    for case in ps08.SALIENCY_CASES:
        predicted = ps08._predicted(case.model(), case.images())
        assert (predicted != torch.as_tensor(case.target).expand(case.shape[0])).any()


def _mutants(*parts: str) -> list:
    return [m for m in map(parse_mutant, mutant_files(ASSIGNMENT))
            if m.replaces.removesuffix("_solution") in parts]


def _mutant_namespace(mutant) -> dict:
    """The setup and solution cells run with the mutant in place (its functions are called
    by the other solutions: fine_tune_optimizer calls freeze)."""
    namespace: dict = {"__name__": "__main__"}
    for cell in apply_mutant(read_notebook(ASSIGNMENT), mutant).cells:
        if grade_id(cell) == "setup" or is_solution_cell(cell):
            exec(compile(cell.source, f"<cell {grade_id(cell)}>", "exec"), namespace)
    return namespace


def _loses(run, cases) -> str | None:
    """The message of the first drawn case ``run`` fails, or None."""
    for case in cases:
        try:
            run(case)
        except AssertionError as failure:
            return str(failure)
    return None


# Each part's drawn cases, and how one is checked with the namespace's answers.
def _pareto_runs(ns):
    guard = Guard(answer_of(ns["pareto_front"], "pareto_front"), "pareto_front")
    return ps08.pareto_hidden, lambda case: ps08._check_pareto_case(guard, *case)


def _saliency_runs(ns):
    guard = Guard(answer_of(ns["saliency_map"], "saliency_map"), "saliency_map")
    return ps08.saliency_hidden, lambda case: ps08._check_saliency_case(guard, case)


def _freeze_runs(ns):
    guard = Guard(answer_of(ns["freeze"], "freeze"), "freeze")
    return ps08.freeze_hidden, lambda case: ps08._check_freeze_case(guard, *case)


def _groups_runs(ns):
    groups = Guard(answer_of(ns["layerwise_param_groups"], "layerwise_param_groups"),
                   "layerwise_param_groups")
    optimizer = Guard(answer_of(ns["fine_tune_optimizer"], "fine_tune_optimizer"),
                      "fine_tune_optimizer")

    def run(case):
        ps08._check_groups_case(groups, case)
        ps08._check_optimizer_case(optimizer, case)

    return ps08.groups_hidden, run


def _front_runs(ns):
    guard = Guard(answer_of(ns["measured_front"], "measured_front"), "measured_front")
    return ps08.front_hidden, lambda case: ps08._check_front_case(guard, case)


RUNS = {"pareto_front_test_hidden": _pareto_runs, "saliency_map_test_hidden": _saliency_runs,
        "freeze_test_hidden": _freeze_runs, "param_groups_test_hidden": _groups_runs,
        "measured_front_test_hidden": _front_runs}


@pytest.mark.parametrize("mutant", _mutants("pareto_front", "saliency_map", "freeze",
                                            "param_groups", "measured_front"),
                         ids=lambda m: m.name)
def test_every_draw_alone_catches_the_mutant(mutant):
    """Under every draw, the hidden cases by themselves fail each known-wrong answer, in every
    hidden cell it loses (latency: see test_latency_cases_tell_every_mistake_from_the_median)."""
    namespace = _mutant_namespace(mutant)
    for cell in mutant.loses:
        if cell not in RUNS:
            continue
        draw, run = RUNS[cell](namespace)
        for seed in SEEDS:
            message = _loses(run, draw(random.Random(seed)))
            assert message is not None, (cell, seed)
            if cell.startswith(mutant.replaces.removesuffix("_solution")):
                assert mutant.message in message, (cell, seed, message)


def test_the_source_passes_every_draw(answers):
    for cell, runs in RUNS.items():
        draw, run = runs(answers)
        for seed in SEEDS[:5]:
            assert _loses(run, draw(random.Random(seed))) is None, (cell, seed)


def test_hidden_draws_depend_on_the_seed_only():
    for draw in (ps08.latency_hidden, ps08.pareto_hidden, ps08.saliency_hidden,
                 ps08.freeze_hidden, ps08.groups_hidden, ps08.front_hidden):
        assert draw(random.Random(7)) == draw(random.Random(7))
        assert draw(random.Random(7)) != draw(random.Random(8))


def test_call_recorder_spec_is_checked():
    for bad in ({"delays": [2.0]}, {"delays": [-1]}, {"delays": "x"}, {"default": True}):
        with pytest.raises(WireError):
            make("call_recorder", bad)


# --------------------------------------------------------------------------- 6. measured front
def test_measured_front_reference_is_the_package_front_cheapest_first():
    cases = ps08.FRONT_CASES + [c for seed in SEEDS for c in ps08.front_hidden(random.Random(seed))]
    for names, errors, costs in cases:
        accuracy = [1 - statistics.fmean(e) for e in errors]
        expected = [names[i] for i in pareto_front(costs, accuracy)]   # sorted by cost
        assert sorted(ps08.reference_measured_front(names, errors, costs)) == sorted(expected)
        got = ps08.reference_measured_front(names, errors, costs)
        assert [costs[names.index(n)] for n in got] == sorted(costs[names.index(n)]
                                                              for n in got)


def test_the_visible_front_cases_name_every_known_mistake_by_its_own_hint():
    """Each wrong front (of the wrong families, or in the wrong order) differs from the
    right one in a visible case, and the hint there is its own."""
    for hint, wrong in ps08.FRONT_SET_MISTAKES:
        shown = [ps08._front_hint(wrong(case), case) for case in ps08.FRONT_CASES
                 if sorted(wrong(case)) != sorted(ps08.reference_measured_front(*case))]
        assert shown and shown[0] == hint, hint
    for key, hint in ps08.FRONT_ORDER_HINTS.items():
        shown = [ps08._front_hint(ps08._wrong_orders(case)[key], case)
                 for case in ps08.FRONT_CASES
                 if ps08._wrong_orders(case)[key] != ps08.reference_measured_front(*case)]
        assert shown and shown[0] == hint, key


def test_measured_front_checker_wants_names_and_says_so():
    def indices(names, errors, costs):
        accuracy = [1 - sum(e) / len(e) for e in errors]
        front = [i for i in range(len(names))
                 if not any(costs[j] <= costs[i] and accuracy[j] >= accuracy[i]
                            and (costs[j] < costs[i] or accuracy[j] > accuracy[i])
                            for j in range(len(names)))]
        return sorted(front, key=lambda i: costs[i])

    with pytest.raises(AssertionError, match="not their indices"):
        ps08.check_measured_front(indices)


def test_families_is_plain_data_read_when_asked_for():
    from cnncourse.grading.view import _is_plain

    assert "FAMILIES" in ps08.TOOLS and "FAMILIES" not in vars(ps08)
    table = ps08.FAMILIES
    assert _is_plain(table)
    n = len(table["family"])
    assert n == 11 and all(len(table[k]) == n for k in ("test_error", "macs", "params"))
    assert all(0 < e < 1 for errors in table["test_error"] for e in errors)
    assert table["source"].startswith(("the course's table", "a made-up table"))
