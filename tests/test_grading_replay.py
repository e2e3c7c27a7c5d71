"""nbgrader's autograde fed from the sandbox's run (``cnncourse.grading.replay``): outputs
land in the right cells (setup by grade id, the student's cells by order and source, test
cells from the judge's verdicts), anything not inert is dropped on this side too, and a
failed verdict becomes an error output."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path

import nbformat
import pytest

from cnncourse.grading.cells import cells_by_grade_id, grade_id
from cnncourse.grading.replay import ReplayOutputs, replay, safe_outputs, verdict_outputs

REPO = Path(__file__).resolve().parent.parent
TOY = REPO / "tests" / "fixtures" / "course" / "source" / "toy" / "toy.ipynb"
PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5Er"
       "kJggg==")


def stream(text: str, name: str = "stdout") -> dict:
    return {"output_type": "stream", "name": name, "text": text}


def submission() -> nbformat.NotebookNode:
    nb = nbformat.read(TOY, as_version=4)
    cells_by_grade_id(nb)["add_solution"][1].source = "def add(a, b):\n    return a - b"
    return nb


def record_for(nb: nbformat.NotebookNode) -> dict:
    """What the worker writes for this notebook's run (``worker._cells_record``)."""
    code = [(i, c) for i, c in enumerate(nb.cells, start=1) if c.cell_type == "code"
            and grade_id(c) not in ("add_test", "add_test_hidden", "norm_test",
                                    "norm_test_hidden")]
    outputs = {
        "setup": [stream("setup ran\n")],
        "add_solution": [{"output_type": "execute_result", "execution_count": 3,
                          "data": {"text/plain": "'defined'"}, "metadata": {}}],
        5: [stream("3\n"), stream("a warning\n", "stderr"), stream("odd\n", "evil")],
        "norm_solution": [
            {"output_type": "display_data", "metadata": {},
             "data": {"text/html": "<script>alert(1)</script>", "text/plain": "<Page>"}},
            {"output_type": "display_data", "metadata": {},
             "data": {"application/javascript": "alert(2)"}},
            {"output_type": "display_data", "metadata": {},
             "data": {"image/png": PNG, "image/svg+xml": "<svg onload=alert(3)/>"}},
            {"output_type": "display_data", "metadata": {},
             "data": {"image/png": base64.b64encode(b"<html>not a png").decode()}},
            {"output_type": "update_display_data", "data": {"text/plain": "x"}},
            "not an output",
            {"output_type": "error", "ename": "ZeroDivisionError", "evalue": "division by zero",
             "traceback": ["line 1", "line 2"]}],
        10: [stream("5.0\n")],
    }
    cells = []
    for position, cell in code:
        gid = grade_id(cell)
        setup = gid == "setup"
        key = gid if gid in outputs else position
        cells.append({"position": position, "grade_id": gid if setup else None,
                      "source": None if setup else cell.source, "ran": key in outputs,
                      "outputs": outputs.get(key, []), "error": None})
    return {"cells": cells, "tests": {
        "add_test": {"passed": True, "message": "", "output": "\u2713 add: 1 cases passed\n"},
        "add_test_hidden": {"passed": False, "output": "",
                            "message": "add(1, 2): expected 3, got -1. Hint: return the sum."},
        "norm_test": {"passed": False, "message": "NameError: name 'norm' is not defined",
                      "output": ""}}}


@pytest.fixture
def replayed() -> dict:
    nb = submission()
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs = [stream("left by the student: must go\n")]
            cell.execution_count = 99
    return {grade_id(c) or i: c for i, c in enumerate(replay(nb, record_for(submission()))
                                                      .cells, start=1)}


def test_setup_outputs_land_in_the_setup_cell_by_grade_id(replayed):
    assert [o.text for o in replayed["setup"].outputs] == ["setup ran\n"]


def test_student_outputs_land_by_order_and_source(replayed):
    assert replayed["add_solution"].outputs[0].data == {"text/plain": "'defined'"}
    assert [(o.name, o.text) for o in replayed[5].outputs] == [
        ("stdout", "3\n"), ("stderr", "a warning\n"), ("stdout", "odd\n")]
    assert [o.text for o in replayed[10].outputs] == ["5.0\n"]


def test_outputs_that_are_not_inert_are_dropped(replayed):
    outputs = replayed["norm_solution"].outputs
    assert [o.output_type for o in outputs] == ["display_data", "display_data", "error"]
    assert outputs[0].data == {"text/plain": "<Page>"}
    assert outputs[1].data == {"image/png": PNG}
    assert outputs[2].ename == "ZeroDivisionError" and outputs[2].traceback == ["line 1",
                                                                              "line 2"]
    text = json.dumps([o for c in replayed.values() for o in c.get("outputs", [])])
    assert "alert" not in text and "<script" not in text and "must go" not in text


def test_test_cells_show_the_verdicts(replayed):
    assert [o.text for o in replayed["add_test"].outputs] == ["\u2713 add: 1 cases passed\n"]
    failed = replayed["add_test_hidden"].outputs
    assert len(failed) == 1 and failed[0].output_type == "error"
    assert (failed[0].ename, failed[0].evalue) == (
        "AssertionError", "add(1, 2): expected 3, got -1. Hint: return the sum.")
    name_error = replayed["norm_test"].outputs[0]
    assert (name_error.ename, name_error.evalue) == ("NameError", "name 'norm' is not defined")
    assert replayed["norm_test_hidden"].outputs == []  # no verdict: nothing shown
    assert replayed["norm_test_hidden"].execution_count is None


def test_execution_counts_follow_the_cells_that_ran(replayed):
    counts = [c.execution_count for c in replayed.values() if c.cell_type == "code"]
    assert counts == [1, 2, 3, 4, 5, 6, 7, 8, None]


def test_cells_that_did_not_run_show_nothing():
    nb = submission()
    record = record_for(submission())
    for cell in record["cells"]:
        cell["ran"] = False
    replayed = replay(nb, record)
    runs = [c for c in replayed.cells if c.cell_type == "code" and not c.metadata.get(
        "nbgrader", {}).get("grade")]
    assert all(c.outputs == [] and c.execution_count is None for c in runs)


def test_identical_student_cells_are_matched_in_order():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)"),
                                         nbformat.v4.new_code_cell("x = 2"),
                                         nbformat.v4.new_code_cell("print(1)")])
    record = {"cells": [{"position": i, "grade_id": None, "source": c.source, "ran": True,
                         "outputs": [stream(f"run {i}\n")], "error": None}
                        for i, c in enumerate(nb.cells, start=1)]}
    assert [c.outputs[0].text for c in replay(nb, record).cells] == ["run 1\n", "run 2\n",
                                                                     "run 3\n"]


def test_markdown_is_made_inert():
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell(
        "# Title\n<img src=x onerror=alert(1)> $x^2$ <script>alert(2)</script>"
        "<a href='javascript:alert(3)'>x</a>")])
    source = replay(nb, {}).cells[0].source
    assert "onerror" not in source and "<script" not in source and "javascript" not in source
    assert source.startswith("# Title\n<img src=x>") and "$x^2$" in source


def test_verdict_outputs():
    assert verdict_outputs({"passed": True, "output": ""}) == []
    failed = verdict_outputs({"passed": False, "message": "", "output": "partial\n"})
    assert failed[0].text == "partial\n" and failed[1].evalue == "failed"
    assert failed[1].traceback == ["AssertionError: failed"]


def test_safe_outputs_refuses_what_is_not_a_list_of_outputs():
    assert safe_outputs("<script>") == [] and safe_outputs(None) == []
    assert safe_outputs([{"output_type": "display_data", "data": "<b>"}]) == []
    long = safe_outputs([{"output_type": "error", "ename": "E" * 500, "evalue": "v",
                          "traceback": [str(i) for i in range(100)]}])[0]
    assert len(long.ename) == 200 and long.traceback == [str(i) for i in range(70, 100)]


def test_the_preprocessor_reads_the_record_of_its_notebook(tmp_path):
    runs = tmp_path / "runs.json"
    runs.write_text(json.dumps({"toy": record_for(submission()), "other": {}}))
    nb, resources = ReplayOutputs(record_file=str(runs)).preprocess(
        submission(), {"unique_key": "toy"})
    assert resources == {"unique_key": "toy"}
    assert cells_by_grade_id(nb)["setup"][1].outputs[0].text == "setup ran\n"
    untouched = copy.deepcopy(submission())
    nb, _ = ReplayOutputs(record_file=str(runs)).preprocess(untouched, {"unique_key": "x"})
    assert all(c.get("outputs", []) == [] for c in nb.cells)
