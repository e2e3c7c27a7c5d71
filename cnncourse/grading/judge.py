"""The verdict on each test cell, computed in the grading process.

A test cell is a list of checker calls, ``check_conv2d_loops(conv2d_loops, hidden=True)``.
The judge never runs it in the sandbox: it reads the cell from the assignment's SOURCE
(:func:`parse_test_cell`), and runs each named checker here, with the notebook's objects
replaced by handles to the sandbox's probe (``cnncourse.probe.client``). The checker computes
the reference's answers itself and compares them with the plain data the probe returns, so
the verdict cannot be changed from inside the sandbox. Hidden cases are drawn from the
course's secret and the grade id (``secret.py``), fresh for nobody to read in advance.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cnncourse.checks._core import hidden_draws
from cnncourse.grading.plan import Step
from cnncourse.grading.session import TestOutcome
from cnncourse.probe.client import Channel, ProbeUnavailable, lookup

MESSAGE_LIMIT = 5000


class TestCellError(ValueError):
    """A test cell the judge cannot read (a course configuration error)."""


@dataclass(frozen=True)
class CheckCall:
    function: str  # the checker's name as the setup cell imported it
    args: tuple[tuple[str, Any], ...]  # ("name", "conv2d_loops") or ("value", 3)
    kwargs: tuple[tuple[str, Any], ...]


def checker_names(setup_sources: list[str]) -> dict[str, Callable[..., None]]:
    """The checkers the setup cells import (``from cnncourse.checks.psNN import ...``), by
    the name the notebook uses."""
    found: dict[str, Callable[..., None]] = {}
    for source in setup_sources:
        with contextlib.suppress(SyntaxError):
            for node in ast.walk(ast.parse(source)):
                if (isinstance(node, ast.ImportFrom) and node.level == 0 and node.module
                        and node.module.startswith("cnncourse.checks.")):
                    module = importlib.import_module(node.module)
                    for alias in node.names:
                        value = getattr(module, alias.name, None)
                        if alias.name.startswith("check_") and callable(value):
                            found[alias.asname or alias.name] = value
    return found


def _constant(node: ast.expr) -> Any:
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, RecursionError):
        raise TestCellError(f"test cells pass names or constants, not "
                            f"{ast.unparse(node)[:60]}") from None


def parse_test_cell(source: str) -> list[CheckCall]:
    """The checker calls of a test cell; :class:`TestCellError` for anything else."""
    try:
        tree = ast.parse(source)
    except SyntaxError as error:
        raise TestCellError(f"test cell is not Python: {error}") from None
    calls = []
    for statement in tree.body:
        if not (isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call)
                and isinstance(statement.value.func, ast.Name)):
            raise TestCellError("a test cell holds only calls of checkers, "
                                f"check_...(name, ...); found: {ast.unparse(statement)[:80]}")
        call = statement.value
        if any(k.arg is None for k in call.keywords):
            raise TestCellError(f"test cells pass names or constants, not "
                                f"{ast.unparse(call)[:60]}")
        args = tuple(("name", a.id) if isinstance(a, ast.Name) else ("value", _constant(a))
                     for a in call.args)
        kwargs = tuple((k.arg, _constant(k.value)) for k in call.keywords if k.arg)
        calls.append(CheckCall(call.func.id, args, kwargs))
    return calls


def draw_seed(secret: str, grade_id: str, function: str) -> str:
    """The seed of one checker call's hidden cases."""
    return f"{secret}:{grade_id}:{function}"


def judge_test(channel: Channel, grade_id: str, source: str,
               checkers: dict[str, Callable[..., None]], secret: str) -> TestOutcome | None:
    """Run one test cell's checkers against the probe; None when the probe stopped
    answering (the caller knows why: a time-out or a crash)."""
    printed = io.StringIO()
    try:
        for call in parse_test_cell(source):
            checker = checkers.get(call.function)
            if checker is None:
                raise TestCellError(f"{call.function} is not a checker the setup cell imports")
            args = [lookup(channel, value) if kind == "name" else value
                    for kind, value in call.args]
            with hidden_draws(draw_seed(secret, grade_id, call.function)), \
                    contextlib.redirect_stdout(printed):
                checker(*args, **dict(call.kwargs))
    except ProbeUnavailable:
        return None
    except NameError as error:
        return TestOutcome(False, f"NameError: {error}", printed.getvalue())
    except AssertionError as failure:
        return TestOutcome(False, str(failure)[:MESSAGE_LIMIT], printed.getvalue())
    except TestCellError:
        raise
    except Exception as error:  # noqa: BLE001 - the answer broke the checker: it fails
        return TestOutcome(False, f"the checker could not judge the answer ({type(error).__name__}"
                                  f": {str(error)[:500]})", printed.getvalue())
    return TestOutcome(True, "", printed.getvalue())


def group_judge(checkers: dict[str, Callable[..., None]], secret: str,
                verdicts: dict[str, TestOutcome] | None = None
                ) -> Callable[[Channel, Step], dict[str, TestOutcome | None]]:
    """The ``judge_group`` for ``session.run_notebook``; ``verdicts`` are decided already
    (a part lost by a policy rule) and are not asked of the probe."""
    decided = verdicts or {}

    def judge(channel: Channel, step: Step) -> dict[str, TestOutcome | None]:
        outcomes: dict[str, TestOutcome | None] = {}
        for gid, source, _ in step.tests:
            if gid in decided:
                outcomes[gid] = decided[gid]
                continue
            outcomes[gid] = judge_test(channel, gid, source, checkers, secret)
            if outcomes[gid] is None:
                break
        return outcomes

    return judge
