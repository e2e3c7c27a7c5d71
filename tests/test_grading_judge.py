"""The verdicts, computed in the grading process (``cnncourse.grading.judge``): test cells
are read from the source in one strict form, each checker runs against the probe, every way
it can end becomes the right outcome, and hidden cases are drawn per grade id and function."""

from __future__ import annotations

import random
from pathlib import Path

import nbformat
import pytest

from cnncourse.checks._core import hidden_rng
from cnncourse.grading.cells import grade_id
from cnncourse.grading.cells import test_cells as source_test_cells
from cnncourse.grading.judge import (
    CheckCall,
    checker_names,
    draw_seed,
    group_judge,
    judge_test,
    parse_test_cell,
)
from cnncourse.grading.judge import TestCellError as CellError
from cnncourse.grading.plan import Step, plan_steps
from cnncourse.grading.session import TestOutcome as Outcome
from cnncourse.probe.client import Channel, LocalChannel, ProbeUnavailable
from cnncourse.probe.server import ProbeServer

REPO = Path(__file__).resolve().parent.parent
SOURCES = sorted((REPO / "exercises" / "source").glob("*/*.ipynb"))
TOY = ["import math\n\nfrom cnncourse.checks.toy import check_add, check_norm as norm_check\n"]
CHECKERS = checker_names(TOY)


def good_add(a, b):
    return a + b


def bad_add(a, b):
    return a - b


class Agreeable(int):
    def __eq__(self, other):
        return True

    def __ne__(self, other):
        return False

    __hash__ = int.__hash__


def agreeable_add(a, b):
    return Agreeable(0)


def probe(**namespace) -> LocalChannel:
    return LocalChannel(ProbeServer(namespace))


# --------------------------------------------------------------------------- reading test cells
def test_the_form_of_the_test_cells_is_read():
    source = ("# hidden cases run when your notebook is graded\n### BEGIN HIDDEN TESTS\n"
              "check_add(add, hidden=True)\ncheck_norm(norm, 3, -1.5, (1, 2), None, "
              "size={'a': [1]})\n### END HIDDEN TESTS\n")
    assert parse_test_cell(source) == [
        CheckCall("check_add", (("name", "add"),), (("hidden", True),)),
        CheckCall("check_norm", (("name", "norm"), ("value", 3), ("value", -1.5),
                                 ("value", (1, 2)), ("value", None)),
                  (("size", {"a": [1]}),))]
    assert parse_test_cell("# nothing but a comment\n") == []


@pytest.mark.parametrize("source", [
    "check_add(add",  # not Python
    "x = 1",
    "assert add(1, 2) == 3",
    "import os",
    "add(1, 2) == 3",
    "checks.check_add(add)",
    "check_add(add)(1)",
    "check_add(lambda a, b: a + b)",
    "check_add(add, hidden=bool(1))",
    "check_add(add, hidden=other)",
    "check_add(*answers)",
    "check_add(add, **{'hidden': False})",
    "check_add(add.__globals__)",
    "check_add(add, cases={[1]})",
    "if True:\n    check_add(add)",
    "def check_add(x):\n    pass",
])
def test_anything_else_is_refused(source):
    with pytest.raises(CellError):
        parse_test_cell(source)


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.parent.name)
def test_every_test_cell_of_every_source_notebook_parses(path):
    nb = nbformat.read(path, as_version=4)
    setup = [s.source for s in plan_steps(nb, nb) if s.kind == "setup"]
    checkers = checker_names(setup)
    cells = source_test_cells(nb)
    assert cells
    for cell in cells:
        calls = parse_test_cell(cell.source)
        assert calls, grade_id(cell)
        for call in calls:
            assert call.function in checkers, (grade_id(cell), call.function)
            assert call.args and call.args[0][0] == "name"  # the student's answer, by name


def test_checker_names_follow_the_setups_imports():
    assert set(CHECKERS) == {"check_add", "norm_check"}
    assert CHECKERS["norm_check"].__name__ == "check_norm"
    assert checker_names(["from cnncourse.checks.toy import ADD_CASES\nnot python("]) == {}


# --------------------------------------------------------------------------- judging
def test_a_right_answer_passes_with_what_the_checker_printed():
    outcome = judge_test(probe(add=good_add), "add_test", "check_add(add)", CHECKERS, "k")
    assert outcome == Outcome(True, "", "\u2713 add: 1 cases passed\n")
    hidden = judge_test(probe(add=good_add), "add_test_hidden", "check_add(add, hidden=True)",
                        CHECKERS, "k")
    assert hidden.passed and "hidden cases included" in hidden.output


def test_a_wrong_answer_fails_with_the_checkers_message():
    outcome = judge_test(probe(add=bad_add), "add_test", "check_add(add)", CHECKERS, "k")
    assert outcome == Outcome(False, "add(1, 2): expected 3, got -1. Hint: return the sum of "
                                     "a and b.", "")


def test_an_answer_whose_eq_always_agrees_is_judged_by_its_value():
    outcome = judge_test(probe(add=agreeable_add), "add_test", "check_add(add)", CHECKERS, "k")
    assert not outcome.passed and "got 0" in outcome.message


def test_a_name_the_notebook_never_defined_is_a_name_error():
    outcome = judge_test(probe(), "add_test", "check_add(add)", CHECKERS, "k")
    assert outcome == Outcome(False, "NameError: name 'add' is not defined", "")


class Gone(Channel):
    def exchange(self, message):
        raise ProbeUnavailable("the probe crashed")


def test_a_probe_that_stopped_answering_is_no_verdict():
    assert judge_test(Gone(), "add_test", "check_add(add)", CHECKERS, "k") is None


def test_a_checker_broken_by_the_answer_fails_the_test():
    def check_boom(answer):
        print("started")
        raise KeyError("no such layer")

    outcome = judge_test(probe(add=good_add), "x_test", "check_boom(add)",
                         {"check_boom": check_boom}, "k")
    assert outcome == Outcome(False, "the checker could not judge the answer (KeyError: 'no "
                                     "such layer')", "started\n")


def test_a_test_cell_the_judge_cannot_read_is_a_course_error():
    with pytest.raises(CellError, match="not a checker the setup cell imports"):
        judge_test(probe(add=good_add), "add_test", "check_other(add)", CHECKERS, "k")
    with pytest.raises(CellError):
        judge_test(probe(add=good_add), "add_test", "import os", CHECKERS, "k")
    with pytest.raises(CellError, match="print is not a checker"):  # a call, not a checker
        judge_test(probe(add=good_add), "add_test", "check_add(add)\nprint('passed')",
                   CHECKERS, "k")


def test_long_messages_are_cut():
    def check_long(answer):
        raise AssertionError("x" * 20_000)

    outcome = judge_test(probe(a=1), "t", "check_long(a)", {"check_long": check_long}, "k")
    assert len(outcome.message) == 5000


# --------------------------------------------------------------------------- hidden draws
def test_draw_seed_is_stable_and_differs_per_grade_id_function_and_secret():
    seeds = {draw_seed(secret, gid, fn) for secret in ("s1", "s2")
             for gid in ("add_test_hidden", "norm_test_hidden") for fn in ("check_add", "f")}
    assert len(seeds) == 8
    assert draw_seed("s1", "a", "f") == draw_seed("s1", "a", "f")
    assert random.Random(draw_seed("s", "a", "f")).random() == \
        random.Random(draw_seed("s", "a", "f")).random()


def test_each_checker_call_draws_from_its_own_seed():
    drawn: list[float] = []

    def check_draw(answer, hidden=False):
        drawn.append(hidden_rng().random())

    checkers = {"check_draw": check_draw}
    channel = probe(a=1)
    for secret, gid in (("s", "a_test"), ("s", "a_test"), ("s", "b_test"), ("t", "a_test")):
        judge_test(channel, gid, "check_draw(a, hidden=True)", checkers, secret)
    assert drawn[0] == drawn[1] == random.Random(draw_seed("s", "a_test", "check_draw")).random()
    assert len({drawn[0], drawn[2], drawn[3]}) == 3
    two: list[float] = []
    checkers["check_draw"] = lambda answer: two.append(hidden_rng().random())
    judge_test(channel, "a_test", "check_draw(a)\ncheck_draw(a)", checkers, "s")
    assert two[0] == two[1]  # the same function in one cell: the same seed, drawn afresh
    assert hidden_rng() is not hidden_rng()  # outside the judge: a fresh draw each time


def test_a_group_judge_skips_decided_tests_and_stops_at_a_silent_probe():
    step = Step("tests", tests=(("add_test", "check_add(add)", 6),
                                ("add_test_hidden", "check_add(add, hidden=True)", 7)))
    decided = {"add_test": Outcome(False, "add may not use F.conv2d")}
    outcomes = group_judge(CHECKERS, "k", decided)(probe(add=good_add), step)
    assert outcomes["add_test"] == decided["add_test"]
    assert outcomes["add_test_hidden"].passed
    assert group_judge(CHECKERS, "k")(Gone(), step) == {"add_test": None}
