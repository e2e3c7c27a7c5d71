"""Feedback that never shows hidden tests: an nbgrader preprocessor for ``generate_feedback``.

nbgrader renders the autograded notebook as it ran, hidden cases included (by design,
jupyter/nbgrader#917), and IPython's traceback quotes the failing line of the test cell.
:class:`HideHiddenTests` removes the ``### BEGIN HIDDEN TESTS`` regions from test cells and
trims their tracebacks to what helps a student: the frames in the student's own cells and
the checker's message (the last line). Frames quoting the test cell, or the checker's and
torch's internals (``File ...``), are dropped; in the student's own cells (self-checks) only
the checkers' frames are. :func:`finish_page` then puts a table of the parts (points and
the checker's message) and the grader's notes on top, and wraps long messages.
``exercises/nbgrader_config.py`` puts the preprocessor in ``GenerateFeedback.preprocessors``.
"""

import os
import re
from dataclasses import dataclass

from nbconvert.exporters.exporter import ResourcesDict
from nbformat.notebooknode import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import ClearHiddenTests
from traitlets import List

from cnncourse.grading.cells import part_of

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
MESSAGE_CHARS = 600  # of a checker's message in the summary table


def strip_ansi(text: str) -> str:
    """``text`` without terminal colour codes."""
    return _ANSI.sub("", text)


def helps_student(entry: str, execution_count: int | None) -> bool:
    """Whether a traceback entry of a test cell stays: not the test cell's own frame, not
    library code (the checkers, torch), so the student's cells and the message remain."""
    text = strip_ansi(entry).lstrip()
    if text.startswith("File "):
        return False
    return execution_count is None or not text.startswith(f"Cell In[{execution_count}],")


def trim_traceback(traceback: list[str], execution_count: int | None) -> list[str]:
    """The entries that help, or only the message when no frame of the student's is left."""
    kept = [entry for entry in traceback[:-1] if helps_student(entry, execution_count)]
    if not any(strip_ansi(entry).lstrip().startswith("Cell In[") for entry in kept):
        kept = []  # a lone "Traceback (most recent call last)" header says nothing
    return kept + traceback[-1:]


class HideHiddenTests(ClearHiddenTests):
    """Remove hidden test code from test cells and their tracebacks, keep the messages."""

    # configurable like nbgrader's GetGrades, so the HTML exporter's setting is accepted quietly
    display_data_priority = List(
        ["text/html", "application/pdf", "text/latex", "image/svg+xml", "image/png",
         "image/jpeg", "text/plain"]
    ).tag(config=True)

    def preprocess_cell(
        self, cell: NotebookNode, resources: ResourcesDict, cell_index: int
    ) -> tuple[NotebookNode, ResourcesDict]:
        cell, resources = super().preprocess_cell(cell, resources, cell_index)
        if cell.cell_type != "code":
            return cell, resources
        test = utils.is_grade(cell) and not utils.is_solution(cell)
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                traceback = output.get("traceback", [])
                output["traceback"] = (trim_traceback(traceback, cell.get("execution_count"))
                                       if test else without_course_frames(traceback))
        return cell, resources


def without_course_frames(traceback: list[str]) -> list[str]:
    """A traceback of the student's own cell (a self-check) without the checkers' frames:
    their file paths and code are the course's, not the student's."""
    return [entry for entry in traceback
            if not (strip_ansi(entry).lstrip().startswith("File ")
                    and f"{os.sep}cnncourse{os.sep}" in strip_ansi(entry))]


NOTICE_TEMPLATE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{assignment}: feedback for {student}</title>
<style>body{{font-family:sans-serif;max-width:46em;margin:2em auto;line-height:1.5}}
td,th{{padding:.2em .8em;text-align:left}}</style></head>
<body><h1>{assignment} (Score: {score:g} / {max_score:g})</h1>
<p>Feedback for <b>{student}</b>.</p>
<h2>What happened</h2><ul>{reasons}</ul>
<h2>What to do</h2><p>{todo}</p>
<h2>Points per test</h2><table><tr><th>test</th><th>points</th><th>message</th></tr>
{rows}</table></body></html>
"""


def notice_page(assignment: str, student: str, grades: list[dict], reasons: list[str],
                outcomes: dict[str, dict]) -> str:
    """The feedback page for a submission nbgrader could not render feedback for (not a
    notebook, a crashed kernel): the score, why, what to do, and each test's points."""
    import html

    rows = []
    for grade in grades:
        outcome = outcomes.get(grade["notebook"], {}).get(grade["grade_id"], {})
        rows.append(f"<tr><td>{html.escape(grade['grade_id'])}</td>"
                    f"<td>{grade['auto_score']:g} / {grade['max_score']:g}</td>"
                    f"<td>{html.escape(outcome.get('message', '')[:300])}</td></tr>")
    todo = ("Open your notebook in Jupyter, choose Kernel &rarr; Restart Kernel and Run All "
            "Cells, fix what stops it, save, and submit it again. If you think the grade is "
            "wrong, ask your instructor: they have the grading log.")
    return NOTICE_TEMPLATE.format(
        assignment=html.escape(assignment), student=html.escape(student),
        score=sum(g["auto_score"] for g in grades), max_score=sum(g["max_score"] for g in grades),
        reasons="".join(f"<li>{html.escape(r)}</li>" for r in reasons) or "<li>-</li>",
        todo=todo, rows="\n".join(rows))


PAGE_STYLE = """<style>
/* cnncourse: checker messages are long single lines; wrap them instead of cutting them */
.output_area pre, .output_subarea pre, div.output pre {white-space: pre-wrap;
  word-break: break-word}
.cnncourse-box {border: 2px solid #8ab4d8; padding: .5em 1em; margin: 1em; background: #f4f9fd;
  font-family: sans-serif}
.cnncourse-box.notes {border-color: #e9c46a; background: #fffbea}
.cnncourse-box td, .cnncourse-box th {padding: .2em .8em; text-align: left; vertical-align: top}
.cnncourse-box td.message {font-family: monospace; white-space: pre-wrap; font-size: 90%}
.text_cell_render table td, .text_cell_render table th {padding: .2em .8em}
</style>
"""

SUMMARY_BOX = """<div class="cnncourse-box summary"><h2>Your parts</h2>
<table><tr><th>part</th><th>points</th><th>what the checker said</th></tr>
{rows}</table>
<p>Each part's message is the first failure of its tests; the notebook below shows each
test cell with its points. Fix a part in your notebook, rerun its self-check, and resubmit.
</p></div>
"""

NOTES_BOX = """<div class="cnncourse-box notes">
<h2>Grading notes</h2><ul>{items}</ul>
<p>Your code was graded by running it again, part by part, apart from the tests: the points
below come from that run. If a note says a cell was changed, restored, cut or stopped, fix
that in your notebook, run Kernel &rarr; Restart Kernel and Run All Cells, and submit again.
If you think a grade is wrong, ask your instructor: they have the grading log.</p></div>
"""


@dataclass(frozen=True)
class PartResult:
    part: str
    score: float
    max_score: float
    message: str  # the first failed test's message ("" when every test passed)


def part_results(grades: list[dict], outcomes: dict[str, dict]) -> list[PartResult]:
    """Per part, in notebook order: points earned, points possible, the first failure."""
    parts: dict[str, list] = {}
    for grade in grades:
        entry = parts.setdefault(part_of(grade["grade_id"]), [0.0, 0.0, ""])
        entry[0] += grade["auto_score"] or 0.0
        entry[1] += grade["max_score"] or 0.0
        outcome = outcomes.get(grade["notebook"], {}).get(grade["grade_id"], {})
        if not entry[2] and not outcome.get("passed", True):
            entry[2] = outcome.get("message", "") or "failed"
    return [PartResult(part, score, top, message) for part, (score, top, message)
            in parts.items()]


def finish_page(page: str, reasons: list[str], parts: list[PartResult]) -> str:
    """nbgrader's feedback page made readable: long messages wrapped, a table of the parts
    (points and the checker's message) and the grader's notes at the top of its body."""
    import html

    rows = "\n".join(
        f"<tr><td>{html.escape(p.part)}</td><td>{p.score:g} / {p.max_score:g}</td>"
        f"<td class='message'>{html.escape(p.message[:MESSAGE_CHARS]) or '&#10003;'}</td></tr>"
        for p in parts)
    top = SUMMARY_BOX.format(rows=rows) if parts else ""
    if reasons:
        top = NOTES_BOX.format(items="".join(f"<li>{html.escape(r)}</li>"
                                             for r in reasons)) + top
    head = page.find("</head>")
    if head != -1:
        page = page[:head] + PAGE_STYLE + page[head:]
    match = re.search(r"<body[^>]*>", page)
    if match is None:
        return PAGE_STYLE + top + page
    return page[:match.end()] + top + page[match.end():]
