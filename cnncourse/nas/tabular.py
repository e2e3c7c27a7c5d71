"""Searches over a tabular benchmark: every architecture's accuracy looked up, not trained.

``BenchTable`` holds, for every cell of a ``CellSpace``, its accuracy at each budget (and
parameters, MACs, training time). ``from_lab`` reads the course's table (the lab experiment
``nas_bench``, verified like every lab result); ``synthetic`` makes a small made-up one for
tests and exercises. ``reward(budget)`` is the function a search calls where a real search
would train a child; ``search_runs`` runs random search, REINFORCE and regularised evolution
over many seeds, and ``run_searches`` returns each run's curve of the cell it would hand back
(``incumbents``): its accuracy at the reward's budget (the best-so-far curve) or at another
(what searching on a cheap proxy and picking by it delivers). ``training_cost`` is what a
run would have spent training, ``random_expectation`` random search's exact mean curve.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from cnncourse.nas.cell import OPS, CellSpace, all_cells
from cnncourse.nas.evolution import regularized_evolution
from cnncourse.nas.search import SearchResult, random_search, reinforce_search
from cnncourse.nas.space import Architecture


@dataclass(frozen=True)
class BenchTable:
    """Per cell (in ``all_cells(space.ops)`` order): ``val[budget]`` (the searches' reward),
    ``test[budget]`` (reported only), and costs."""

    space: CellSpace
    val: dict[str, np.ndarray]
    test: dict[str, np.ndarray]
    params: np.ndarray
    macs: np.ndarray
    cpu_seconds: dict[str, np.ndarray] = field(default_factory=dict)
    live: np.ndarray | None = None

    @property
    def cells(self) -> list[Architecture]:
        return all_cells(self.space.ops)

    def reward(self, budget: str = "long") -> Callable[[Architecture], float]:
        """``arch -> validation accuracy`` at ``budget``: the table standing in for training."""
        values = self.val[budget]
        return lambda arch: float(values[self.space.index(arch)])

    def optimum(self, budget: str = "long") -> float:
        return float(self.val[budget].max())

    @classmethod
    def from_lab(cls, results=None) -> BenchTable:
        """The course's table: the stored, verified results of ``nas_bench``."""
        from cnncourse import lab
        from cnncourse.lab.experiments import nas_bench

        results = lab.load("nas_bench") if results is None else results
        t = nas_bench.table(results)
        budgets = nas_bench.BUDGETS
        return cls(CellSpace(tuple(results.config.ops)),
                   val={b: t[f"{b}_val"] for b in budgets},
                   test={b: t[f"{b}_test"] for b in budgets},
                   params=t["params"], macs=t["macs"],
                   cpu_seconds={b: t[f"{b}_cpu_seconds"] for b in budgets}, live=t["live"])

    @classmethod
    def synthetic(cls, seed: int = 0, ops: tuple[str, ...] = OPS,
                  noise: float = 0.01) -> BenchTable:
        """A made-up table on the same space: each (edge, operation) adds a fixed score, the
        long budget is a squashed sum plus noise, the short budget a noisier copy of it."""
        space = CellSpace(ops)
        rng = np.random.default_rng(seed)
        cells = np.array(all_cells(ops))
        scores = rng.normal(0.0, 1.0, size=(cells.shape[1], len(ops)))
        raw = scores[np.arange(cells.shape[1]), cells].sum(axis=1)
        long = 0.1 + 0.85 / (1.0 + np.exp(-raw)) + rng.normal(0.0, noise, len(cells))
        short = long - 0.2 + rng.normal(0.0, 4 * noise, len(cells))
        budgets = {"short": np.clip(short, 0, 1), "long": np.clip(long, 0, 1)}
        return cls(space, val=budgets, test=dict(budgets), params=np.zeros(len(cells), int),
                   macs=np.zeros(len(cells), int))


METHODS = ("random search", "REINFORCE", "regularised evolution")


def run_search(method: str, table: BenchTable, budget: int, seed: int,
               reward_budget: str = "long", **options) -> SearchResult:
    """One search of ``budget`` evaluations over ``table``; ``options`` go to the method
    (REINFORCE: ``batch_size``, ``lr``, ``decay``; evolution: ``population``, ``sample``)."""
    reward = table.reward(reward_budget)
    if method == "random search":
        return random_search(table.space, reward, budget, seed=seed)
    if method == "REINFORCE":
        return reinforce_search(table.space, reward, budget, seed=seed, **options)
    if method == "regularised evolution":
        return regularized_evolution(table.space, reward, budget, seed=seed, **options)
    raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")


def search_runs(table: BenchTable, budget: int, seeds: Sequence[int],
                options: dict[str, dict] | None = None, reward_budget: str = "long",
                methods: Sequence[str] = METHODS) -> dict[str, list[SearchResult]]:
    """Every method in ``methods`` over every seed: ``method -> [SearchResult per seed]``;
    ``options[method]`` go to that method (see ``run_search``)."""
    options = options or {}
    return {m: [run_search(m, table, budget, s, reward_budget, **options.get(m, {}))
                for s in seeds] for m in methods}


def incumbents(result: SearchResult, table: BenchTable, budget: str = "long",
               split: str = "val") -> np.ndarray:
    """After each evaluation, the ``split`` (``"val"`` or ``"test"``) accuracy at ``budget``
    of the cell the search would hand back then: the one with the best reward so far (the
    first found, on ties). Measured at the reward's own budget on ``val``, this is the
    best-so-far curve; at another budget, it is what picking by the reward delivers."""
    values = {"val": table.val, "test": table.test}[split][budget]
    out = np.empty(len(result.rewards))
    best, pick = float("-inf"), 0
    for k, (arch, reward) in enumerate(zip(result.archs, result.rewards, strict=True)):
        if reward > best:
            best, pick = reward, table.space.index(arch)
        out[k] = values[pick]
    return out


def run_searches(table: BenchTable, budget: int, seeds: Sequence[int],
                 options: dict[str, dict] | None = None, reward_budget: str = "long",
                 report_budget: str | None = None, split: str = "val",
                 methods: Sequence[str] = METHODS) -> dict[str, np.ndarray]:
    """Every method over every seed: ``method -> (seeds, budget)`` curves of ``incumbents``
    at ``report_budget`` (default: the reward's budget, where the curve is the best reward
    so far)."""
    report_budget = reward_budget if report_budget is None else report_budget
    runs = search_runs(table, budget, seeds, options, reward_budget, methods)
    return {m: np.array([incumbents(r, table, report_budget, split) for r in results])
            for m, results in runs.items()}


def distinct_cells(result: SearchResult) -> np.ndarray:
    """After each evaluation, how many different cells the search has evaluated (a search
    may sample a cell again; a real one would look it up rather than train it twice)."""
    seen: set = set()
    out = np.empty(len(result.archs), dtype=int)
    for k, arch in enumerate(result.archs):
        seen.add(arch)
        out[k] = len(seen)
    return out


def training_cost(result: SearchResult, table: BenchTable, budget: str) -> np.ndarray:
    """After each evaluation, the CPU seconds of training the search would have spent at
    ``budget``: the table's recorded time of every different cell it has evaluated (a cell
    sampled again costs nothing: its result is known)."""
    seconds = table.cpu_seconds[budget]
    seen: set = set()
    out, total = np.empty(len(result.archs)), 0.0
    for k, arch in enumerate(result.archs):
        if arch not in seen:
            seen.add(arch)
            total += float(seconds[table.space.index(arch)])
        out[k] = total
    return out


def random_expectation(values: np.ndarray, budget: int) -> np.ndarray:
    """Random search's exact mean best-so-far over ``values`` (one per cell, drawn
    uniformly with replacement), after 1 .. ``budget`` draws: with the values sorted,
    P(best of n <= the k-th smallest) = (k / N)^n."""
    v = np.sort(np.asarray(values, dtype=float))
    n_cells = len(v)
    below = np.arange(n_cells + 1) / n_cells            # k / N for k = 0 .. N
    out = np.empty(budget)
    for n in range(1, budget + 1):
        cdf = below ** n
        out[n - 1] = float(np.sum(v * np.diff(cdf)))
    return out


def mean_and_band(curves: np.ndarray, z: float = 1.96) -> tuple[np.ndarray, np.ndarray]:
    """Mean best-so-far curve and the half-width of its 95 % confidence band (normal
    approximation: z standard errors of the mean over seeds)."""
    mean = curves.mean(axis=0)
    half = z * curves.std(axis=0, ddof=1) / np.sqrt(len(curves))
    return mean, half
