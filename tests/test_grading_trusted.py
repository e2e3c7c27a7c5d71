"""The clean re-run that decides grades (``cnncourse.grading.trusted``) and its helpers.

Fast tests check the plan, the reports' interpretation, the output caps and the pages;
the ``slow`` ones re-run ps01 answers that tamper with the checkers themselves (the toy
assignment's tests are plain asserts, so these need a real checker), without nbgrader.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
import pytest

from cnncourse.grading.autograde import disagreements, last_error
from cnncourse.grading.cells import cells_by_grade_id, grade_id
from cnncourse.grading.execute import TRUNCATED, LimitedExecute
from cnncourse.grading.feedback import PartResult, finish_page, notice_page, part_results
from cnncourse.grading.trusted import (
    Limits,
    PlanCell,
    _CappedText,
    grouped_tests,
    interpret,
    run_trusted,
    trusted_plan,
)

REPO = Path(__file__).resolve().parent.parent
TOY = REPO / "tests" / "fixtures" / "course" / "source" / "toy" / "toy.ipynb"
PS01 = REPO / "exercises" / "source" / "ps01_convolution" / "ps01_convolution.ipynb"
PS02 = REPO / "exercises" / "source" / "ps02_lenet" / "ps02_lenet.ipynb"


def read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def kinds(plan: list[PlanCell]) -> list[tuple[str, str | None]]:
    return [(cell.kind, cell.grade_id) for cell in plan]


# ---- the plan ----------------------------------------------------------------------------------

def test_plan_takes_tests_and_setup_from_the_source_and_code_from_the_student():
    source = read(TOY)
    submitted = copy.deepcopy(source)
    cells = cells_by_grade_id(submitted)
    cells["add_test"][1].source = "pass  # edited by the student"
    cells["add_solution"][1].source = "def add(a, b):\n    return 0"
    plan = trusted_plan(source, submitted)
    by_id = {cell.grade_id: cell for cell in plan if cell.grade_id}
    assert by_id["add_test"].source == cells_by_grade_id(source)["add_test"][1].source
    assert "HIDDEN TESTS" in by_id["add_test_hidden"].source  # hidden cases are run
    student = [cell for cell in plan if cell.kind == "student"]
    assert "return 0" in student[0].source and student[0].position == 4
    assert kinds(plan)[:2] == [("setup", "setup"), ("student", None)]


def test_plan_restores_deleted_cells_and_ignores_copies():
    source = read(TOY)
    submitted = copy.deepcopy(source)
    submitted.cells = [c for c in submitted.cells if grade_id(c) not in ("setup", "norm_test")]
    twin = copy.deepcopy(cells_by_grade_id(submitted)["add_test"][1])
    twin.source = "print('a copy of a test cell is only the student’s code')"
    submitted.cells.insert(cells_by_grade_id(submitted)["add_test"][0] + 1, twin)
    plan = trusted_plan(source, submitted)
    assert kinds(plan)[0] == ("setup", "setup") and plan[0].position is None  # put first
    assert kinds(plan)[-1] == ("test", "norm_test")  # put last
    tests = [cell.grade_id for cell in plan if cell.kind == "test"]
    assert sorted(tests) == ["add_test", "add_test_hidden", "norm_test", "norm_test_hidden"]
    assert any(cell.kind == "student" and "a copy" in cell.source for cell in plan)


def test_test_groups_are_runs_of_one_part():
    plan = [PlanCell("student", "", None, 1), PlanCell("test", "", "a_test", 2),
            PlanCell("test", "", "a_test_hidden", 3), PlanCell("test", "", "b_test", 4),
            PlanCell("student", "", None, 5), PlanCell("test", "", "b_test_hidden", 6)]
    assert [(i, [c.grade_id for c in g]) for i, g in grouped_tests(plan)] == [
        (1, ["a_test", "a_test_hidden"]), (3, ["b_test"]), (5, ["b_test_hidden"])]


# ---- reading the runner's reports --------------------------------------------------------------

PLAN = [PlanCell("setup", "", "setup", 1), PlanCell("student", "", None, 2),
        PlanCell("test", "", "a_test", 3), PlanCell("student", "", None, 4),
        PlanCell("test", "", "b_test", 5)]


def test_a_runner_that_died_leaves_later_parts_at_zero_with_a_reason():
    records = [{"kind": "network", "isolated": True}, {"kind": "cell", "position": 2},
               {"kind": "test", "grade_id": "a_test", "passed": True}, {"kind": "crashed",
                                                                       "tests": ["a_test"]},
               {"kind": "cell", "position": 4}]
    verdict = interpret(PLAN, records, Limits())
    assert verdict.tests["a_test"].passed and not verdict.tests["b_test"].passed
    assert "ended Python" in verdict.tests["b_test"].message
    assert verdict.notes == ["the notebook's code ended Python in cell 4 (exit(), os._exit, "
                             "running out of memory or a crash); the parts after it score 0"]


def test_tampering_and_refusals_are_noted_once_and_flagged():
    records = [{"kind": "tampered", "when": "before", "part": "a", "changed": ["torch.allclose"]},
               {"kind": "test", "grade_id": "a_test", "passed": True},
               {"kind": "refused", "events": ["socket.connect"], "suspicious": []},
               {"kind": "tampered", "when": "before", "part": "b", "changed": ["torch.allclose"]},
               {"kind": "killed", "tests": ["b_test"], "seconds": 65.0},
               {"kind": "refused", "events": ["socket.connect"], "suspicious": []},
               {"kind": "done", "notes": [], "refused": ["socket.connect"],
                "suspicious": ["uses get_ipython().events (IPython hooks do not run when "
                               "grading)"]}]
    verdict = interpret(PLAN, records, Limits())
    assert verdict.tampered
    assert verdict.tests["b_test"].message == (
        "the test did not finish within 65 s and was stopped: look for a loop that never "
        "ends, or code far slower than your self-check run suggests")
    assert verdict.notes == [
        "the student's code changed torch.allclose; put back before the tests of a, b ran "
        "(review it by hand)",
        "the code uses get_ipython().events (IPython hooks do not run when grading)",
        "refused while grading: socket.connect"]


def test_notebook_run_and_clean_run_disagreements_are_named():
    trusted = {"grades": [{"notebook": "toy", "grade_id": "a_test", "auto_score": 0.0},
                          {"notebook": "toy", "grade_id": "b_test", "auto_score": 2.0},
                          {"notebook": "toy", "grade_id": "c_test", "auto_score": 1.0}],
               "outcomes": {"toy": {"a_test": {"message": "AssertionError: expected 3, got 0"}}}}
    ran = [{"notebook": "toy", "grade_id": "a_test", "auto_score": 1.0},
           {"notebook": "toy", "grade_id": "b_test", "auto_score": 0.0},
           {"notebook": "toy", "grade_id": "c_test", "auto_score": 1.0}]
    assert disagreements(ran, trusted) == [
        "passed in the notebook but failed when its code was re-run apart from the tests, "
        "which counts: a_test (AssertionError: expected 3, got 0)",
        "failed in the notebook but passed when re-run apart from the rest of the notebook, "
        "which counts: b_test"]


def test_a_crash_inside_nbgrader_is_named_by_its_exception():
    log = ("[AutogradeApp | ERROR] There was an error processing assignment: /x\n"
           "[AutogradeApp | ERROR] Traceback (most recent call last):\n"
           "      File \"utils.py\", line 118, in get_partial_grade\n"
           "    ValueError: partial credit cannot be greater than maximum points for cell\n")
    assert last_error(log) == ("ValueError: partial credit cannot be greater than maximum "
                               "points for cell")


# ---- output caps and pages ---------------------------------------------------------------------

def test_captured_output_is_capped():
    out = _CappedText(limit=10)
    out.write("0123456789abcdef")
    out.write("more")
    assert out.text() == "0123456789\n... 10 more characters of output dropped"


def test_notebook_output_beyond_the_cap_is_dropped_with_one_note():
    execute = LimitedExecute(max_output_bytes=1000)
    execute.reset_execution_trackers()  # what nbclient does before running a notebook,
    execute.clear_before_next_output = False  # and before each cell
    outs: list = []

    def stream(text: str) -> dict:
        return {"msg_type": "stream", "parent_header": {"msg_id": "m"},
                "content": {"name": "stdout", "text": text}, "header": {"msg_type": "stream"}}

    image = {"msg_type": "display_data", "parent_header": {"msg_id": "m"},
             "header": {"msg_type": "display_data"},
             "content": {"data": {"image/png": "A" * 5000}, "metadata": {}}}
    execute.output(outs, stream("x" * 600), None, 0)
    for message in (stream("y" * 600), image, stream("z")):
        execute.output(outs, message, None, 0)
    texts = [o.get("text", "") for o in outs]
    assert texts[0] == "x" * 600 and len(outs) == 2 and TRUNCATED in texts[1]
    execute.output(outs, stream("other cell"), None, 1)  # each cell has its own budget
    assert outs[-1].text == "other cell"


def test_feedback_pages_say_what_happened_and_what_to_do():
    grades = [{"notebook": "toy", "grade_id": "add_test", "auto_score": 1.0, "max_score": 1.0},
              {"notebook": "toy", "grade_id": "norm_test", "auto_score": 0.0, "max_score": 2.0}]
    page = notice_page("toy", "ann <b>", grades, ["kernel died (the notebook crashed Python)"],
                       {"toy": {"norm_test": {"message": "AssertionError: expected 5.0"}}})
    assert "toy (Score: 1 / 3)" in page and "ann &lt;b&gt;" in page
    assert "kernel died" in page and "expected 5.0" in page and "submit it again" in page
    outcomes = {"toy": {"add_test": {"passed": True, "message": ""},
                        "norm_test": {"passed": False, "message": "norm([3, 4]): expected 5.0"}}}
    parts = part_results(grades, outcomes)
    assert parts == [PartResult("add", 1.0, 1.0, ""),
                     PartResult("norm", 0.0, 2.0, "norm([3, 4]): expected 5.0")]
    noted = finish_page("<html><head></head><body class='x'><p>nbgrader</p></body></html>",
                        ["cut <here>"], parts)
    assert noted.index("Grading notes") < noted.index("Your parts") < noted.index("nbgrader")
    assert "cut &lt;here&gt;" in noted and "norm([3, 4]): expected 5.0" in noted
    assert "pre-wrap" in noted[:noted.index("</head>")]  # long messages wrap, not cut
    quiet = finish_page("<html><head></head><body><p>nbgrader</p></body></html>", [], parts)
    assert "Grading notes" not in quiet and "Your parts" in quiet


# ---- ps01 answers that tamper with the checkers (a real checker; no nbgrader) ------------------

def rerun_ps01(tmp_path: Path, code: str, cell_timeout: int = 30,
               ) -> tuple[dict, list[str], bool]:
    """Re-run ps01's reference answers with ``output_size_solution`` replaced by ``code``;
    (grade id -> passed, notes, tampered)."""
    source = read(PS01)
    submitted = copy.deepcopy(source)
    cells_by_grade_id(submitted)["output_size_solution"][1].source = code
    verdict = run_trusted(trusted_plan(source, submitted), tmp_path / "work",
                          Limits(cell_timeout=cell_timeout), [REPO / "exercises"])
    return ({gid: o.passed for gid, o in verdict.tests.items()}, verdict.notes,
            verdict.tampered)


WRONG = "def conv_output_size(n, kernel, stride=1, padding=0, dilation=1):\n    return 0\n"


@pytest.mark.slow
def test_reference_answers_rerun_clean(tmp_path):
    reference = cells_by_grade_id(read(PS01))["output_size_solution"][1].source
    passed, notes, tampered = rerun_ps01(tmp_path, reference)
    assert all(passed.values()) and len(passed) == 14
    assert notes == [] and not tampered  # no false alarm on an honest notebook


@pytest.mark.slow
@pytest.mark.parametrize("trick, noted", [
    ("import cnncourse.checks.ps01 as c\nc.check_conv_output_size = lambda *a, **k: None\n"
     "check_conv_output_size = lambda *a, **k: None\n", "check_conv_output_size"),
    ("import torch, numpy.testing\ntorch.allclose = lambda *a, **k: True\n"
     "torch.testing.assert_close = lambda *a, **k: None\n"
     "numpy.testing.assert_allclose = lambda *a, **k: None\n", "torch.allclose"),
    ("import builtins\nbuiltins.vars = lambda *a: {}\nbuiltins.setattr = lambda *a: None\n",
     "builtins.vars"),  # what undoing the changes could use: undone first
    ("import functools\nimport cnncourse.checks._core as core\n"
     "core.check_int = functools.wraps(core.check_int)(lambda *a, **k: None)\n",
     "cnncourse.checks._core.check_int"),
])
def test_replacing_checkers_or_comparisons_is_undone_and_noted(tmp_path, trick, noted):
    passed, notes, tampered = rerun_ps01(tmp_path, trick + WRONG)
    assert not passed["output_size_test"] and not passed["output_size_test_hidden"]
    assert passed["conv_loops_test"]  # the other parts keep their points
    assert tampered and any(noted in note for note in notes)


@pytest.mark.slow
def test_patching_a_checker_while_being_tested_scores_zero(tmp_path):
    lazy = ("def conv_output_size(n, kernel, stride=1, padding=0, dilation=1):\n"
            "    import cnncourse.checks.ps01 as c\n"
            "    c.check_int = lambda *a, **k: None\n"
            "    return 0\n")
    passed, notes, tampered = rerun_ps01(tmp_path, lazy)
    assert not passed["output_size_test"] and tampered
    assert any("while it ran: that test scores 0" in note for note in notes)


@pytest.mark.slow
@pytest.mark.parametrize("answer", [
    "from cnncourse.analysis.arithmetic import conv_output_size\n",  # importing it
    "import importlib\nconv_output_size = importlib.import_module("  # aliasing it
    "'cnncourse.analysis.arithmetic').conv_output_size\n",
    "import importlib\n_ref = importlib.import_module('cnncourse.analysis.arithmetic')\n"
    "def conv_output_size(n, kernel, stride=1, padding=0, dilation=1):\n"
    "    return _ref.conv_output_size(n, kernel, stride, padding, dilation)\n",  # wrapping it
    "import importlib\n" + WRONG + "conv_output_size.__code__ = importlib.import_module("
    "'cnncourse.analysis.arithmetic').conv_output_size.__code__\n",  # copying its code
])
def test_answering_with_the_reference_earns_nothing(tmp_path, answer):
    passed, _, _ = rerun_ps01(tmp_path, answer)
    assert not passed["output_size_test"] and not passed["output_size_test_hidden"]
    assert passed["receptive_field_test"]


def test_the_notebook_kernel_refuses_the_course_files_and_processes(tmp_path):
    from cnncourse.grading.kernel import _hook

    work, course = tmp_path / "autograded" / "ann" / "toy", tmp_path / "course"
    hook = _hook(str(work), [str(course)])
    hook("open", (str(work / "data.csv"), "w", 0))  # its own folder: fine
    hook("open", ("/usr/lib/python3/os.py", "r", 0))  # reading libraries: fine
    for event, args in [("open", (str(course / "source" / "toy" / "toy.ipynb"), "r", 0)),
                        ("open", (str(tmp_path / "elsewhere" / "gradebook.db"), "rb", 0)),
                        ("open", (str(tmp_path / "escaped.txt"), "w", 0)),
                        ("subprocess.Popen", ("ls", ["ls"], None, None)),
                        ("socket.connect", (None, ("192.0.2.1", 80)))]:
        with pytest.raises(PermissionError, match="not allowed while grading"):
            hook(event, args)


STUBBORN = ("import signal\n"
            "def conv_output_size(n, kernel, stride=1, padding=0, dilation=1):\n"
            "    signal.signal(signal.SIGALRM, signal.SIG_IGN)  # the time limit's signal\n"
            "    while True:\n"
            "        pass\n")


def stubborn_ps01(tmp_path: Path, self_check: str):
    """ps01's reference answers, with a conv_output_size that ignores the time limit and
    never returns; ``self_check`` replaces the self-check cell after it."""
    source = read(PS01)
    submitted = copy.deepcopy(source)
    position, cell = cells_by_grade_id(submitted)["output_size_solution"]
    cell.source = STUBBORN
    submitted.cells[position + 1].source = self_check
    plan = trusted_plan(source, submitted)
    return run_trusted(plan, tmp_path / "work", Limits(cell_timeout=4), [REPO / "exercises"])


@pytest.mark.slow
def test_a_test_that_cannot_be_interrupted_is_killed_and_the_rest_is_graded(tmp_path):
    """Only the tests call the stubborn function: killing the test's process is the one way
    to stop it (the path a hang in compiled code takes). That part scores 0, the runner
    lives on and grades the parts after it; the self-check that switches off the time
    limit's signal is noted (and the limit is armed again for the next cell)."""
    verdict = stubborn_ps01(tmp_path, "signal.signal(signal.SIGALRM, signal.SIG_IGN)")
    passed = {gid: outcome.passed for gid, outcome in verdict.tests.items()}
    assert not passed["output_size_test"] and not passed["output_size_test_hidden"]
    assert "did not finish" in verdict.tests["output_size_test"].message
    assert passed["conv_loops_test"] and passed["receptive_field_test_hidden"]
    assert any("SIGALRM" in note for note in verdict.notes) and verdict.tampered


@pytest.mark.slow
def test_a_student_cell_that_cannot_be_interrupted_stops_the_rerun_early(tmp_path):
    """The self-check calls it in the runner itself: the runner goes quiet and is stopped
    after one cell's limit, not the whole notebook's, and the parts after it score 0."""
    verdict = stubborn_ps01(tmp_path, "conv_output_size(5, 3)")
    assert not any(outcome.passed for outcome in verdict.tests.values())
    assert any("stopped after its time limit, in cell" in note for note in verdict.notes)
    assert verdict.seconds < 60  # one cell's 4 s and the grace, not 4 s for each of ~40 cells


@pytest.mark.slow
def test_a_kernel_with_two_threads_does_not_hang_the_rerun(tmp_path):
    """ps02 trains and runs convolutions in the runner before forking its test children:
    with two torch threads there, a child's first convolution waited forever for OpenMP
    threads fork does not copy. The re-run uses one thread whatever the kernel gets."""
    source = read(PS02)
    verdict = run_trusted(trusted_plan(source, copy.deepcopy(source)), tmp_path / "work",
                          Limits(cell_timeout=120, threads=2), [REPO / "exercises"])
    failed = {gid: o.message for gid, o in verdict.tests.items() if not o.passed}
    assert not failed and verdict.notes == []


@pytest.mark.slow
def test_student_code_cannot_use_the_runners_kill_on_other_processes(tmp_path):
    """The runner may kill its own hung test child; student code reaching that function
    (through sys.modules) must not kill anything else, such as another student's grading."""
    import subprocess
    import sys

    bystander = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        attack = ("import sys\n"
                  "runner = sys.modules['cnncourse.grading.trusted']\n"
                  f"runner._kill({bystander.pid})\n")
        passed, _, _ = rerun_ps01(tmp_path, attack + WRONG)
        assert bystander.poll() is None, "the bystander process was killed"
        assert not passed["output_size_test"] and passed["conv_loops_test"]
    finally:
        bystander.kill()
