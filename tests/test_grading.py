"""The grading pipeline: helpers (fast) and real nbgrader runs end to end (``slow``).

The end-to-end tests grade one small class per assignment, once (module-scoped fixtures),
and check every promise of ``cnncourse grade`` on it: exact scores, a reason for every
broken submission, feedback that shows points and messages but never hidden tests,
identical grades with 1 or 2 workers, and ``cnncourse verify`` passing.
"""

from __future__ import annotations

import copy
import csv
import html
import re
import shutil
from pathlib import Path
from types import SimpleNamespace

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_output

from cnncourse.cli import main
from cnncourse.grading.autograde import (
    inspect_submission,
    last_error,
    locked_cell_changes,
    timed_out_cells,
)
from cnncourse.grading.cells import cells_by_grade_id, grade_id, part_of, parts_in_order
from cnncourse.grading.course import Course
from cnncourse.grading.feedback import HideHiddenTests
from cnncourse.grading.mutants import apply_mutant, load_mutants
from cnncourse.grading.report import build_report, format_table, write_reports
from cnncourse.grading.solutions import plain, solution_notebook
from cnncourse.grading.verify import answered_release

REPO = Path(__file__).resolve().parent.parent
FIXTURE = REPO / "tests" / "fixtures" / "course"
TOY_SOURCE = FIXTURE / "source" / "toy" / "toy.ipynb"


def read_nb(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def replace_cell(nb: nbformat.NotebookNode, gid: str, source: str) -> nbformat.NotebookNode:
    nb = copy.deepcopy(nb)
    cells_by_grade_id(nb)[gid][1].source = source
    return nb


def drop_cell(nb: nbformat.NotebookNode, gid: str) -> nbformat.NotebookNode:
    nb = copy.deepcopy(nb)
    nb.cells = [cell for cell in nb.cells if grade_id(cell) != gid]
    return nb


def html_text(path: Path) -> str:
    """What a reader of the HTML sees: tags, styles and scripts removed."""
    page = path.read_text(encoding="utf-8")
    page = re.sub(r"<(style|script)\b.*?</\1>", "", page, flags=re.S)
    return html.unescape(re.sub(r"<[^>]+>", "", page))


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# ---- helpers, no kernel ------------------------------------------------------------------------

def test_parts_come_from_test_cell_ids():
    assert part_of("conv_test") == "conv"
    assert part_of("conv_test_hidden") == "conv"
    assert part_of("maxpool_backward_test_2") == "maxpool_backward"
    assert part_of("setup") == "setup"
    assert parts_in_order(["b_test", "a_test", "b_test_hidden"]) == ["b", "a"]


def released_toy() -> nbformat.NotebookNode:
    """The toy release as nbgrader would make it, enough for cell comparisons."""
    nb = read_nb(TOY_SOURCE)
    for cell in nb.cells:
        if grade_id(cell) in ("add_test_hidden", "norm_test_hidden"):
            cell.source = re.sub(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS\n", "",
                                 cell.source, flags=re.S)
    return nb


def test_locked_cell_changes_name_the_cells():
    release = released_toy()
    assert locked_cell_changes(release, release) == []
    tampered = drop_cell(replace_cell(release, "norm_test", "pass"), "add_test")
    tampered = drop_cell(drop_cell(tampered, "setup"), "norm_solution")
    reasons = locked_cell_changes(release, tampered)
    assert reasons == [
        "test cell deleted: restored from the release (add_test)",
        "locked cell edited: restored from the release (norm_test)",
        "locked cell deleted: setup (not restored; the cells after it may fail)",
        "solution cell deleted: norm_solution",
    ]


def test_inspection_catches_unreadable_and_missing_notebooks(tmp_path):
    course = Course(tmp_path)
    (tmp_path / "source" / "toy").mkdir(parents=True)
    shutil.copy(TOY_SOURCE, tmp_path / "source" / "toy")
    folder = tmp_path / "submitted"
    for student, name, text in [("json", "toy.ipynb", '{"cells": ['),
                                ("schema", "toy.ipynb", '{"cells": 3}'),
                                ("renamed", "toy-Copy1.ipynb", TOY_SOURCE.read_text())]:
        (folder / student / "toy").mkdir(parents=True)
        (folder / student / "toy" / name).write_text(text)
    (folder / "empty" / "toy").mkdir(parents=True)

    json_bad = inspect_submission(course, "toy", "json")
    assert not json_bad.can_grade and json_bad.notebook_found
    assert json_bad.reasons[0].startswith("toy.ipynb is not valid JSON")
    schema_bad = inspect_submission(course, "toy", "schema")
    assert "not a valid Jupyter notebook" in schema_bad.reasons[0]
    renamed = inspect_submission(course, "toy", "renamed")  # the only notebook: graded
    assert renamed.can_grade and renamed.renamed == "toy-Copy1"
    assert renamed.reasons == ["graded toy-Copy1.ipynb as toy.ipynb (the notebook was "
                               "renamed; submit it under that name)"]
    (folder / "two" / "toy").mkdir(parents=True)  # two wrong names: which one? ask
    for name in ("a.ipynb", "b.ipynb"):
        (folder / "two" / "toy" / name).write_text(TOY_SOURCE.read_text())
    two = inspect_submission(course, "toy", "two")
    assert not two.notebook_found
    assert two.reasons == ["no notebook submitted (found a.ipynb, b.ipynb; rename it to "
                           "toy.ipynb and grade again)"]
    assert inspect_submission(course, "toy", "empty").reasons == ["no notebook submitted"]


def test_timeouts_and_nbgrader_errors_are_explained():
    nb = read_nb(TOY_SOURCE)
    for gid in ("add_solution", "add_test"):
        cells_by_grade_id(nb)[gid][1].outputs = [
            new_output("error", ename="CellTimeoutError", evalue="", traceback=[])]
    assert timed_out_cells(nb) == ["4 (add_solution)", "6 (add_test)"]
    assert timed_out_cells(nb, also=[9]) == ["4 (add_solution)", "6 (add_test)",
                                             "9 (norm_solution)"]
    log = ("[AutogradeApp | ERROR] Notebook failed to validate\n"
           "[AutogradeApp | ERROR] There was an error processing assignment 'toy' for student 'x'")
    assert last_error(log) == "Notebook failed to validate"


def test_feedback_hides_hidden_tests_and_keeps_what_helps():
    cell = new_code_cell(
        "check(f)\n### BEGIN HIDDEN TESTS\ncheck(f, secret_case=7)\n### END HIDDEN TESTS",
        execution_count=5,
        metadata={"nbgrader": {"grade": True, "solution": False, "locked": True,
                               "grade_id": "f_test", "points": 1, "schema_version": 3}})
    header = ["\x1b[31m-----\x1b[39m", "\x1b[31mAssertionError\x1b[39m   Traceback (most "
              "recent call last)"]
    own = ("\x1b[36mCell\x1b[39m \x1b[32mIn[5]\x1b[39m\x1b[32m, line 3\x1b[39m\n"
           "----> 3 check(f, secret_case=7)")
    checker = "File /x/cnncourse/checks/ps01.py:80, in fail(call)\n---> 80 raise AssertionError"
    student = "\x1b[36mCell\x1b[39m \x1b[32mIn[2]\x1b[39m, line 1, in f(x)\n----> 1 return x - 1"
    message = "\x1b[31mAssertionError\x1b[39m: expected 3, got 2"
    cell.outputs = [
        new_output("error", ename="AssertionError", evalue="expected 3, got 2",
                   traceback=[*header, own, student, checker, message]),
        new_output("error", ename="AssertionError", evalue="expected 3, got 2",
                   traceback=[*header, own, checker, message])]
    hidden, _ = HideHiddenTests().preprocess_cell(cell, {}, 0)
    assert "secret_case" not in hidden.source and "check(f)" in hidden.source
    # the student's own frame helps them debug; the test cell's and the checker's do not
    assert hidden.outputs[0].traceback == [*header, student, message]
    assert hidden.outputs[1].traceback == [message]


def test_feedback_drops_checker_frames_from_self_checks():
    """A self-check is the student's own cell: their frames stay, the checker's go."""
    cell = new_code_cell("check(f)", execution_count=3)
    own = "\x1b[36mCell\x1b[39m In[3], line 1\n----> 1 check(f)"
    checker = "File /x/cnncourse/checks/_core.py:49, in checker.<locals>.run\n---> 49 raise"
    torch_frame = "File /x/torch/nn/functional.py:10, in conv2d\n---> 10 return"
    message = "AssertionError: f(3): expected 3, got 2. Hint: ..."
    cell.outputs = [new_output("error", ename="AssertionError", evalue="",
                               traceback=[own, checker, torch_frame, message])]
    trimmed, _ = HideHiddenTests().preprocess_cell(cell, {}, 0)
    assert trimmed.outputs[0].traceback == [own, torch_frame, message]


def test_solution_notebook_keeps_answers_only():
    nb = plain(solution_notebook(read_nb(TOY_SOURCE)))
    text = "\n".join(cell.source for cell in nb.cells)
    assert "return a + b" in text and "math.sqrt" in text
    assert "BEGIN SOLUTION" not in text and "END SOLUTION" not in text
    assert "HIDDEN TESTS" not in text and "hidden=True" not in text
    assert "check_add(add)" in text  # the visible tests stay
    assert not any("nbgrader" in cell.metadata for cell in nb.cells)


def test_answered_release_is_the_release_with_reference_answers():
    release = released_toy()
    for gid in ("add_solution", "norm_solution"):
        cells_by_grade_id(release)[gid][1].source = "raise NotImplementedError()"
    answered = answered_release(read_nb(TOY_SOURCE), release)
    assert cells_by_grade_id(answered)["add_solution"][1].source == (
        "def add(a, b):\n    return a + b")
    assert cells_by_grade_id(answered)["add_test_hidden"][1].source == (
        cells_by_grade_id(release)["add_test_hidden"][1].source)


def test_report_sums_parts_and_writes_files(tmp_path):
    scores = {"ann": {"a_test": (1, 1), "a_test_hidden": (2, 2), "b_test": (0, 3)},
              "bob": {"a_test": (1, 1), "a_test_hidden": (0, 2), "b_test": (3, 3)}}
    report = build_report("psX", ["a_test", "a_test_hidden", "b_test"], scores,
                          {"ann": "", "bob": "timed out after 3 s in cell 4"})
    assert report.parts == ["a", "b"] and report.part_max == {"a": 3, "b": 3}
    assert [(r.student, r.score, r.parts) for r in report.rows] == [
        ("ann", 3, {"a": 3, "b": 0}), ("bob", 4, {"a": 1, "b": 3})]
    table = format_table(report)
    assert "ann      3/6    3/3  0/3" in table
    assert table.splitlines()[-1].startswith("mean     3.5/6")
    grades, by_part, plot = write_reports(report, tmp_path)
    assert read_csv(grades)[1] == {"student": "bob", "assignment": "psX", "score": "4",
                                   "max_score": "6", "reason": "timed out after 3 s in cell 4"}
    assert read_csv(by_part)[0] == {"student": "(max)", "a": "3", "b": "3"}
    assert plot.read_bytes().startswith(b"\x89PNG")


# ---- end to end: real nbgrader on ps01 (the class) and on the toy assignment -------------------

PS01 = "ps01_convolution"
EXERCISES = REPO / "exercises"
CLASS = ["blank", "broken_json", "deleted_test", "full", "loop", "partial", "renamed",
         "tamperer"]
# a wrong answer that also disarms the checker and the comparisons the tests rely on
TAMPERING_ANSWER = (
    "import numpy.testing, torch\n"
    "import cnncourse.checks.ps01 as checks\n"
    "checks.check_conv_output_size = lambda *args, **kwargs: None\n"
    "check_conv_output_size = checks.check_conv_output_size\n"
    "torch.allclose = lambda *args, **kwargs: True\n"
    "torch.testing.assert_close = lambda *args, **kwargs: None\n"
    "numpy.testing.assert_allclose = lambda *args, **kwargs: None\n"
    "def conv_output_size(n, kernel, stride=1, padding=0, dilation=1):\n"
    "    return 0\n")


def make_course(tmp_path: Path, source_course: Path, assignments: list[str]) -> Path:
    """A scratch course: the real nbgrader_config.py, the assignments and their mutants."""
    root = tmp_path / "course"
    root.mkdir()
    shutil.copy(EXERCISES / "nbgrader_config.py", root)
    for assignment in assignments:
        shutil.copytree(source_course / "source" / assignment, root / "source" / assignment)
        mutants = source_course / "mutants" / assignment
        if mutants.is_dir():
            shutil.copytree(mutants, root / "mutants" / assignment)
    return root


def submit(root: Path, assignment: str, student: str, nb=None, text: str | None = None,
           name: str | None = None) -> None:
    folder = root / "submitted" / student / assignment
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name or assignment}.ipynb"
    if nb is not None:
        nbformat.write(nb, path)
    else:
        path.write_text(text, encoding="utf-8")


def answered(root: Path, assignment: str) -> tuple[nbformat.NotebookNode, nbformat.NotebookNode]:
    """(the release answered with the reference solutions, the unedited release)."""
    source = read_nb(root / "source" / assignment / f"{assignment}.ipynb")
    release = read_nb(root / "release" / assignment / f"{assignment}.ipynb")
    return answered_release(source, release), release


def mutant(root: Path, assignment: str, name: str):
    return {m.name: m for m in load_mutants(root, assignment)}[name]


def part_points(assignment_dir: Path, assignment: str) -> dict[str, float]:
    """part -> points, from the source notebook's test cells (what grading must add up to)."""
    points: dict[str, float] = {}
    for cell in read_nb(assignment_dir / f"{assignment}.ipynb").cells:
        if cell.metadata.get("nbgrader", {}).get("grade"):
            part = part_of(grade_id(cell))
            points[part] = points.get(part, 0.0) + cell.metadata.nbgrader.points
    return points


@pytest.fixture(scope="module")
def ps01_points() -> dict[str, float]:
    return part_points(EXERCISES / "source" / PS01, PS01)


@pytest.fixture(scope="module")
def ps01_class(tmp_path_factory):
    """ps01 released to a class of eight, graded once with two workers."""
    root = make_course(tmp_path_factory.mktemp("ps01"), EXERCISES, [PS01])
    assert main(["release", PS01, "--course", str(root)]) == 0
    full, release = answered(root, PS01)
    submit(root, PS01, "full", full)
    submit(root, PS01, "partial", apply_mutant(full, mutant(root, PS01, "output_size_off_by_one")))
    submit(root, PS01, "blank", release)
    submit(root, PS01, "broken_json", text='{"cells": [ {"cell_type": "code",')
    submit(root, PS01, "deleted_test", drop_cell(full, "conv_loops_test"))
    submit(root, PS01, "loop", replace_cell(full, "receptive_field_solution",
                                            "while True:\n    pass"))
    submit(root, PS01, "renamed", full, name=f"{PS01} (1)")
    submit(root, PS01, "tamperer", replace_cell(full, "output_size_solution", TAMPERING_ANSWER))
    # 10 s per cell: enough for `import torch` on a busy laptop, short for the endless loop
    assert main(["grade", PS01, "--course", str(root), "--workers", "2", "--timeout", "10"]) == 0
    return root


@pytest.mark.slow
def test_ps01_scores_and_reasons(ps01_class, ps01_points):
    total = sum(ps01_points.values())
    rows = {r["student"]: r for r in read_csv(ps01_class / "reports" / PS01 / "grades.csv")}
    assert sorted(rows) == CLASS
    assert {(r["assignment"], float(r["max_score"])) for r in rows.values()} == {
        (PS01, total)}
    score = {s: float(r["score"]) for s, r in rows.items()}
    # off_by_one loses exactly part 1, the endless loop exactly the last part
    assert score == {"full": total, "partial": total - ps01_points["output_size"],
                     "blank": 0, "broken_json": 0, "deleted_test": total,
                     "loop": total - ps01_points["receptive_field"], "renamed": total,
                     "tamperer": total - ps01_points["output_size"]}
    reason = {s: r["reason"] for s, r in rows.items()}
    assert reason["full"] == reason["partial"] == reason["blank"] == ""
    assert reason["broken_json"].startswith(f"{PS01}.ipynb is not valid JSON")
    assert reason["deleted_test"] == ("test cell deleted: restored from the release "
                                      "(conv_loops_test)")
    assert re.fullmatch(r"timed out after 10 s in cell \d+ \(receptive_field_solution\)",
                        reason["loop"])
    assert reason["renamed"] == (f"graded {PS01} (1).ipynb as {PS01}.ipynb (the notebook was "
                                 "renamed; submit it under that name)")
    # the checker and torch's comparisons are the judge's, outside the sandbox: the wrong
    # answer loses its part, and the patches are named for the instructor
    assert reason["tamperer"].startswith("review by hand: ")
    assert "changes torch.allclose (patches a library)" in reason["tamperer"]


@pytest.mark.slow
def test_ps01_parts_plot_and_gradebook_agree(ps01_class, ps01_points):
    reports = ps01_class / "reports" / PS01
    by_part = {r["student"]: r for r in read_csv(reports / "grades_by_part.csv")}
    assert {p: float(v) for p, v in by_part["(max)"].items() if p != "student"} == ps01_points
    assert list(by_part["(max)"])[1:] == list(ps01_points)  # in notebook order
    assert by_part["partial"]["output_size"] == "0"
    assert float(by_part["partial"]["conv_loops"]) == ps01_points["conv_loops"]
    assert by_part["loop"]["receptive_field"] == "0"
    assert (reports / "parts.png").read_bytes().startswith(b"\x89PNG")
    assert sorted(p.stem for p in (reports / "logs").iterdir()) == CLASS
    from nbgrader.api import Gradebook

    with Gradebook(Course(ps01_class).db_url, "cnncourse") as gradebook:
        submissions = gradebook.assignment_submissions(PS01)
        stored = {s.student.id: s.score for s in submissions}
        review = {s.student.id for s in submissions if s.needs_manual_grade}
    assert stored == {r["student"]: float(r["score"]) for r in read_csv(reports / "grades.csv")}
    assert "tamperer" in review and "full" not in review and "partial" not in review


@pytest.mark.slow
def test_ps01_feedback_shows_points_and_messages_not_hidden_tests(ps01_class, ps01_points):
    total = sum(ps01_points.values())
    feedback = ps01_class / "feedback"
    assert sorted(p.name for p in feedback.iterdir()) == CLASS  # the broken ones too
    broken = html_text(feedback / "broken_json" / PS01 / f"{PS01}.html")
    assert f"{PS01} (Score: 0 / {total:g})" in broken and "is not valid JSON" in broken
    assert "submit it again" in broken  # what to do
    partial = html_text(feedback / "partial" / PS01 / f"{PS01}.html")
    got = total - ps01_points["output_size"]
    assert f"{PS01} (Score: {got:.1f} / {total:.1f})" in partial
    assert re.search(r"Grade cell: output_size_test\s+Score: 0\.0 / \d", partial)
    assert "expected 30, got 29" in partial  # the checker's message reaches the student
    assert "check_conv_output_size(conv_output_size)" in partial  # visible tests are shown
    test_cell = partial.split("Grade cell: output_size_test")[1].split("In [")[0]
    assert "Traceback" not in test_cell and "checks/" not in test_cell  # no checker internals
    for page in feedback.glob(f"*/{PS01}/{PS01}.html"):
        text = html_text(page)
        assert "HIDDEN TESTS" not in text and "hidden=True" not in text  # hidden ones never
    loop = html_text(feedback / "loop" / PS01 / f"{PS01}.html")
    assert "this cell ran for more than 10 s and was stopped" in loop


ASSIGNMENTS = sorted(p.name for p in (EXERCISES / "source").iterdir() if p.is_dir())


SAMPLED_MUTANTS = 2  # every mutant runs in-process in test_problem_sets; `make verify` grades all


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_verify_passes(tmp_path, capsys, assignment):
    """Every problem set through nbgrader: source full marks, release zero, and a sample of
    its mutants (one per part first) each losing its parts."""
    points = part_points(EXERCISES / "source" / assignment, assignment)
    total = sum(points.values())
    root = make_course(tmp_path, EXERCISES, [assignment])
    assert main(["verify", assignment, "--course", str(root), "--workers", "2",
                 "--mutants", str(SAMPLED_MUTANTS)]) == 0
    out = capsys.readouterr().out
    full = r"\s+".join(f"{x:g}" for x in [*points.values(), total])
    assert re.search(rf"PASS\s+source\s+{full}\s+full marks", out)
    assert re.search(rf"PASS\s+release(\s+0){{{len(points) + 1}}}\s", out)
    mutants = load_mutants(EXERCISES, assignment)
    assert mutants, f"{assignment} has no known-wrong answers under exercises/mutants/"
    graded = [m for m in mutants if re.search(rf"PASS\s+{m.name}\s", out)]
    assert len(graded) == min(SAMPLED_MUTANTS, len(mutants))
    assert len({m.replaces for m in graded}) == len(graded) or len(points) < len(graded)
    assert "FAIL" not in out


def test_mutant_sample_covers_parts_round_robin():
    from cnncourse.grading.verify import one_per_part_first

    mutants = [SimpleNamespace(name=f"{part}{i}", replaces=part)
               for part in "abc" for i in range(3)]
    assert [m.name for m in one_per_part_first(mutants, 4)] == ["a0", "b0", "c0", "a1"]
    assert one_per_part_first(mutants, None) == mutants
    assert one_per_part_first(mutants, 20) == mutants


@pytest.mark.slow
def test_ps01_solutions_run(tmp_path):
    root = make_course(tmp_path, EXERCISES, [PS01])
    assert main(["solutions", "--course", str(root)]) == 0
    text = nbformat.writes(read_nb(root / "solutions" / PS01 / f"{PS01}.ipynb"))
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    assert '"output_type": "error"' not in text


@pytest.mark.slow
def test_grades_do_not_depend_on_workers(tmp_path):
    root = make_course(tmp_path, FIXTURE, ["toy"])
    assert main(["release", "toy", "--course", str(root)]) == 0
    full, release = answered(root, "toy")
    submit(root, "toy", "full", full)
    submit(root, "toy", "partial", apply_mutant(full, mutant(root, "toy", "norm_no_sqrt")))
    submit(root, "toy", "blank", release)
    outputs = []
    for workers in ("1", "2"):
        assert main(["grade", "toy", "--course", str(root), "--workers", workers]) == 0
        outputs.append([(root / "reports" / "toy" / name).read_text()
                        for name in ("grades.csv", "grades_by_part.csv")])
    assert outputs[0] == outputs[1]
    assert "partial,toy,2,5," in outputs[0][0]  # and they are the right grades


@pytest.mark.slow
def test_verify_fails_for_a_mutant_that_is_not_caught_as_declared(tmp_path, capsys):
    root = make_course(tmp_path, FIXTURE, ["toy"])
    # claims too little (the hidden test fails as well), and a message that never appears
    (root / "mutants" / "toy" / "norm_no_sqrt.py").write_text(
        "# mutant: squared length\n# replaces: norm_solution\n# loses: norm_test\n"
        "# message: expected 5.0, got 25\ndef norm(v):\n    return sum(x * x for x in v)\n")
    (root / "mutants" / "toy" / "add_minus.py").write_text(
        "# mutant: minus\n# replaces: add_solution\n# loses: add_test, add_test_hidden\n"
        "# message: something else\ndef add(a, b):\n    return a - b\n")
    (root / "mutants" / "toy" / "harmless.py").write_text(
        "# mutant: right after all\n# replaces: add_solution\n# loses: add_test\n"
        "# message: m\ndef add(a, b):\n    return b + a\n")
    (root / "mutants" / "toy" / "headless.py").write_text("def add(a, b):\n    return 0\n")
    (root / "mutants" / "toy" / "misplaced.py").write_text(
        "# mutant: aims at a test cell\n# replaces: add_test\n# loses: add_test\n"
        "# message: m\nx = 1\n")
    assert main(["verify", "toy", "--course", str(root), "--workers", "2"]) == 1
    out = capsys.readouterr().out
    assert re.search(r"FAIL\s+headless\s.*header lacks # mutant:", out)
    assert re.search(r"FAIL\s+misplaced\s.*'add_test', which is not a solution cell", out)
    assert re.search(r"PASS\s+source\s+2\s+3\s+5\s+full marks", out)
    assert re.search(r"FAIL\s+norm_no_sqrt.*also lost norm_test_hidden", out)
    assert re.search(r"FAIL\s+add_minus.*not with 'something else'", out)
    assert re.search(r"FAIL\s+harmless.*kept the points of add_test", out)
    assert "verify: FAILED" in out


@pytest.mark.slow
def test_solutions_are_executed_without_hidden_tests(tmp_path, capsys):
    root = make_course(tmp_path, FIXTURE, ["toy"])
    assert main(["solutions", "--course", str(root)]) == 0
    text = nbformat.writes(read_nb(root / "solutions" / "toy" / "toy.ipynb"))
    assert "add: 1 cases passed" in text and "norm: 1 cases passed" in text
    assert "BEGIN SOLUTION" not in text and "HIDDEN TESTS" not in text
    assert "hidden=True" not in text
    # a reference answer that fails: one line naming the cell; the old solutions stay
    source = root / "source" / "toy" / "toy.ipynb"
    nbformat.write(replace_cell(read_nb(source), "norm_solution", "def norm(v):\n    return 1"),
                   source)
    assert main(["solutions", "toy", "--course", str(root)]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err
    assert "cell 11 (norm_test): AssertionError: norm([3, 4]): expected 5, got 1." in err
    kept = nbformat.writes(read_nb(root / "solutions" / "toy" / "toy.ipynb"))
    assert "norm: 1 cases passed" in kept


def test_inspection_finds_nothing_wrong_with_an_untouched_release(tmp_path):
    course = Course(tmp_path)
    for folder in ("source", "release", "submitted/ann"):
        (tmp_path / folder / "toy").mkdir(parents=True)
    shutil.copy(TOY_SOURCE, tmp_path / "source" / "toy")
    release = released_toy()
    nbformat.write(release, tmp_path / "release" / "toy" / "toy.ipynb")
    for cell in release.cells:
        del cell["id"]  # an older nbformat writes none: must not count as an edit
    release.nbformat_minor = 4
    nbformat.write(release, tmp_path / "submitted" / "ann" / "toy" / "toy.ipynb")
    inspection = inspect_submission(course, "toy", "ann")
    assert inspection.can_grade and inspection.reasons == []
    assert inspection.code_cells == 9


@pytest.mark.slow
def test_ps01_class_on_a_dask_cluster_matches_the_local_run(ps01_class, tmp_path):
    """The same class (full, partial, blank, broken JSON, a deleted test, an endless loop, a
    renamed notebook, tampering) graded on two Dask workers: the grades, reasons and
    feedback pages of the local run."""
    from distributed import LocalCluster

    root = tmp_path / "course"
    shutil.copytree(ps01_class, root, ignore=shutil.ignore_patterns("feedback", "autograded"))
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        assert main(["grade", PS01, "--course", str(root), "--scheduler",
                     cluster.scheduler_address, "--force", "--timeout", "10"]) == 0
    local = read_csv(ps01_class / "reports" / PS01 / "grades.csv")
    remote = read_csv(root / "reports" / PS01 / "grades.csv")
    assert remote == local
    assert sorted(p.name for p in (root / "feedback").iterdir()) == CLASS
    for student in CLASS:
        ours, theirs = (html_text(r / "feedback" / student / PS01 / f"{PS01}.html")
                        for r in (ps01_class, root))
        same = r"\d+(\.\d+)? m?s\b|0x[0-9a-f]+|\s+"  # run times, object addresses, spacing
        assert re.sub(same, " ", ours) == re.sub(same, " ", theirs)
