"""Checkers for the toy problem set the grading tests use (``tests/fixtures/course``).

Two parts small enough that a class of them grades in seconds: ``add(a, b)`` and
``norm(v)``, the Euclidean length of a list. They follow the real checkers' contract (a
probe holds the answer, the judge computes and compares, hidden cases are drawn), so the
grading pipeline's tests exercise exactly what the problem sets use.
"""

from __future__ import annotations

import math
import random

from cnncourse.checks._core import (
    Call,
    Guard,
    answer_of,
    checker,
    fail,
    hidden_rng,
    report_success,
)

ADD_CASES = [(1, 2)]
NORM_CASES = [[3, 4]]


def add_hidden(rng: random.Random) -> list[tuple[float, float]]:
    """Three sums: two of integers (one with a negative term), one of halves."""
    return [(rng.randint(2, 99), rng.randint(1, 99)), (-rng.randint(1, 50), rng.randint(1, 50)),
            (rng.randint(0, 20) + 0.5, rng.randint(0, 20) + 0.5)]


def norm_hidden(rng: random.Random) -> list[list[int]]:
    """Two vectors of three to five whole entries."""
    return [[rng.randint(-9, 9) for _ in range(rng.randint(3, 5))] for _ in range(2)]


@checker
def check_add(student_fn: object, hidden: bool = False) -> None:
    """``add(a, b)`` returns ``a + b``."""
    answer = answer_of(student_fn, "add")
    cases = ADD_CASES + (add_hidden(hidden_rng()) if hidden else [])
    guard = Guard(answer, "add")
    for a, b in cases:
        call = Call("add", [(None, a), (None, b)])
        got = guard.call(call)
        if not isinstance(got, int | float) or got != a + b:
            fail(call, f"expected {a + b}, got {got!r}.", "return the sum of a and b.")
    report_success("add", len(cases), hidden)


@checker
def check_norm(student_fn: object, hidden: bool = False) -> None:
    """``norm(v)`` returns the Euclidean length of the list ``v``."""
    answer = answer_of(student_fn, "norm")
    cases = NORM_CASES + (norm_hidden(hidden_rng()) if hidden else [])
    guard = Guard(answer, "norm")
    for v in cases:
        call = Call("norm", [(None, list(v))])
        got = guard.call(call)
        expected = math.sqrt(sum(x * x for x in v))
        if not isinstance(got, int | float) or abs(got - expected) > 1e-9:
            fail(call, f"expected {expected:g}, got {got!r}.",
                 "the length is the square root of the sum of the squares.")
    report_success("norm", len(cases), hidden)
