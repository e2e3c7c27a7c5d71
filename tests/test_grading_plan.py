"""What the sandbox runs for a notebook (``cnncourse.grading.plan``): setup and test cells
from the SOURCE, the student's cells as the student ordered them, deleted setup and tests
restored, copies of locked cells run as ordinary code, one test group per part."""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell

from cnncourse.grading.cells import cells_by_grade_id, grade_id, is_test_cell
from cnncourse.grading.cells import test_cells as source_test_cells
from cnncourse.grading.plan import Step, plan_steps
from cnncourse.grading.plan import test_ids as planned_ids

REPO = Path(__file__).resolve().parent.parent
TOY = REPO / "tests" / "fixtures" / "course" / "source" / "toy" / "toy.ipynb"
SOURCES = sorted((REPO / "exercises" / "source").glob("*/*.ipynb"))


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def cell(nb: nbformat.NotebookNode, gid: str) -> nbformat.NotebookNode:
    return cells_by_grade_id(nb)[gid][1]


def summary(steps: list[Step]) -> list[tuple]:
    return [(s.kind, s.grade_id, s.position) if s.kind != "tests"
            else ("tests", tuple((g, p) for g, _, p in s.tests)) for s in steps]


def test_an_untouched_notebook_runs_setup_student_cells_and_one_group_per_part():
    source = read(TOY)
    steps = plan_steps(source, copy.deepcopy(source))
    assert summary(steps) == [
        ("setup", "setup", 2), ("student", None, 4), ("student", None, 5),
        ("tests", (("add_test", 6), ("add_test_hidden", 7))),
        ("student", None, 9), ("student", None, 10),
        ("tests", (("norm_test", 11), ("norm_test_hidden", 12)))]
    assert steps[1].source == cell(source, "add_solution").source
    assert planned_ids(steps) == ["add_test", "add_test_hidden", "norm_test", "norm_test_hidden"]


def test_setup_and_test_cells_come_from_the_source_whatever_the_student_wrote():
    source = read(TOY)
    submitted = copy.deepcopy(source)
    cell(submitted, "setup").source = "import os\nos.system('rm -rf /')"
    cell(submitted, "add_test").source = "pass  # passed!"
    cell(submitted, "add_test_hidden").source = ""
    steps = plan_steps(source, submitted)
    assert steps[0].source == cell(source, "setup").source
    tests = {gid: text for step in steps for gid, text, _ in step.tests}
    assert tests["add_test"] == "check_add(add)"
    assert tests["add_test_hidden"] == cell(source, "add_test_hidden").source
    assert all("rm -rf" not in s.source and "passed!" not in s.source for s in steps)


def test_student_cells_run_in_the_students_order_with_their_own_source():
    source = read(TOY)
    submitted = copy.deepcopy(source)
    cell(submitted, "add_solution").source = "def add(a, b):\n    return a - b"
    norm = submitted.cells.pop(cells_by_grade_id(submitted)["norm_solution"][0])
    submitted.cells.insert(2, norm)  # the student moved norm up, before part 1's text
    submitted.cells.insert(0, new_code_cell("x = 1  # a cell of the student's own"))
    submitted.cells.insert(0, new_markdown_cell("notes"))
    steps = plan_steps(source, submitted)
    student = [s for s in steps if s.kind == "student"]
    assert [s.source.split("\n")[0] for s in student] == [
        "x = 1  # a cell of the student's own", "def norm(v):", "def add(a, b):",
        "print(add(1, 2))  # self-check: should print 3",
        "print(norm([3, 4]))  # self-check: should print 5.0"]
    assert student[2].source.endswith("return a - b")
    assert [s.position for s in student] == [2, 5, 7, 8, 12]  # 1-based, markdown counted


def test_deleted_setup_goes_first_and_deleted_tests_go_last():
    source = read(TOY)
    submitted = copy.deepcopy(source)
    submitted.cells = [c for c in submitted.cells
                       if grade_id(c) not in ("setup", "add_test", "norm_test_hidden")]
    steps = plan_steps(source, submitted)
    assert steps[0] == Step("setup", cell(source, "setup").source, None, "setup")
    assert summary(steps) == [
        ("setup", "setup", None), ("student", None, 3), ("student", None, 4),
        ("tests", (("add_test_hidden", 5),)), ("student", None, 7), ("student", None, 8),
        ("tests", (("norm_test", 9),)),
        ("tests", (("add_test", None),)), ("tests", (("norm_test_hidden", None),))]
    assert steps[-2].tests[0][1] == "check_add(add)"


def test_copies_of_locked_cells_are_ordinary_student_code():
    source = read(TOY)
    submitted = copy.deepcopy(source)
    copy_of_test = copy.deepcopy(cell(submitted, "add_test"))
    copy_of_test.source = "print('a copy of a test cell')"
    copy_of_setup = copy.deepcopy(cell(submitted, "setup"))
    copy_of_setup.source = "print('a copy of the setup')"
    submitted.cells += [copy_of_test, copy_of_setup]
    steps = plan_steps(source, submitted)
    assert [(s.kind, s.source) for s in steps[-2:]] == [
        ("student", "print('a copy of a test cell')"), ("student", "print('a copy of the setup')")]
    assert planned_ids(steps).count("add_test") == 1
    assert [s.kind for s in steps].count("setup") == 1


def test_a_students_cell_claiming_a_test_id_runs_the_sources_test_instead():
    source = read(TOY)
    submitted = copy.deepcopy(source)
    submitted.cells = [c for c in submitted.cells if grade_id(c) != "norm_test"]
    forged = new_code_cell("print('forged')")
    forged.metadata["nbgrader"] = {"grade": True, "grade_id": "norm_test", "locked": True,
                                   "points": 100, "solution": False, "schema_version": 3}
    submitted.cells.insert(1, forged)
    steps = plan_steps(source, submitted)
    tests = [(g, text) for s in steps for g, text, _ in s.tests]
    assert ("norm_test", "check_norm(norm)") in tests
    assert all("forged" not in s.source for s in steps)


def test_tests_of_different_parts_are_different_groups_and_a_cell_between_splits_one():
    source = read(TOY)
    submitted = copy.deepcopy(source)
    order = {grade_id(c): c for c in submitted.cells if grade_id(c)}
    submitted.cells = [order["setup"], order["add_solution"], order["norm_solution"],
                       order["add_test"], order["norm_test"], order["add_test_hidden"],
                       new_code_cell("print('between')"), order["norm_test_hidden"]]
    groups = [[g for g, _, _ in s.tests] for s in plan_steps(source, submitted)
              if s.kind == "tests"]
    assert groups == [["add_test"], ["norm_test"], ["add_test_hidden"], ["norm_test_hidden"]]


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.parent.name)
def test_every_source_notebook_plans_its_own_cells(path):
    source = read(path)
    steps = plan_steps(source, copy.deepcopy(source))
    assert planned_ids(steps) == [grade_id(c) for c in source_test_cells(source)]
    codes = [c for c in source.cells if c.cell_type == "code" and not is_test_cell(c)]
    ran = [s for s in steps if s.kind != "tests"]
    assert [s.source for s in ran] == [c.source for c in codes]
    assert all(s.position is not None for s in steps if s.kind != "tests")
    assert steps[0].kind == "setup"
