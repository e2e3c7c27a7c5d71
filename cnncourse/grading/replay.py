"""nbgrader's autograde without a kernel: the sandbox's run, replayed into the notebook.

nbgrader's ``Execute`` would run the student's code a second time, outside our sandbox.
:class:`ReplayOutputs` takes its place in ``Autograde.autograde_preprocessors``: it fills
each cell with the outputs the sandboxed run recorded (``worker.py`` writes them to
``record_file``), and each test cell with the judge's verdict, so nbgrader's own
bookkeeping (``SaveAutoGrades``, the gradebook, the feedback page) shows exactly what was
graded. Outputs are inert by construction: text, and PNG/JPEG images the runner checked;
Markdown cells lose scripts, event attributes and script links (formgrader shows them).
"""

from __future__ import annotations

import json
from pathlib import Path

from nbconvert.preprocessors import Preprocessor
from nbformat import NotebookNode
from nbformat.v4 import new_output
from traitlets import Bool, Unicode

from cnncourse.grading.cells import grade_id, is_test_cell
from cnncourse.grading.inert import SCRIPT, scrub
from cnncourse.probe.outputs import inert

KEPT_OUTPUT_TYPES = ("stream", "display_data", "execute_result", "error")


def safe_outputs(outputs: list) -> list[NotebookNode]:
    """The recorded outputs again checked on this side: known types, inert data only."""
    kept = []
    for output in outputs if isinstance(outputs, list) else []:
        kind = output.get("output_type") if isinstance(output, dict) else None
        if kind == "stream":
            name = "stderr" if output.get("name") == "stderr" else "stdout"
            kept.append(new_output("stream", name=name, text=str(output.get("text", ""))))
        elif kind in ("display_data", "execute_result"):
            data = inert(output.get("data"))
            if data:
                extra = {"execution_count": None} if kind == "execute_result" else {}
                kept.append(new_output(kind, data=data, **extra))
        elif kind == "error":
            kept.append(new_output("error", ename=str(output.get("ename", "Error"))[:200],
                                   evalue=str(output.get("evalue", ""))[:20_000],
                                   traceback=[str(t)[:5000] for t in
                                              output.get("traceback", [])][-30:]))
    return kept


def verdict_outputs(outcome: dict) -> list[NotebookNode]:
    """A test cell's outputs: what the checker printed, and its failure as an error."""
    outputs = []
    if outcome.get("output"):
        outputs.append(new_output("stream", name="stdout", text=outcome["output"]))
    if not outcome.get("passed"):
        message = outcome.get("message") or "failed"
        ename, _, evalue = message.partition(": ") if message.startswith("NameError: ") \
            else ("AssertionError", "", message)
        outputs.append(new_output("error", ename=ename, evalue=evalue,
                                  traceback=[f"{ename}: {evalue}"]))
    return outputs


def inert_markdown(source: str) -> str:
    """A Markdown cell with its raw HTML made harmless (scripts, event attributes, script
    links and embedding elements removed): formgrader renders Markdown without nbconvert's
    sanitizer."""
    return scrub(SCRIPT.sub("", source)) if "<" in source else source


def replay(nb: NotebookNode, record: dict) -> NotebookNode:
    """Put ``record``'s outputs into ``nb`` (nbgrader's sanitized copy of the submission),
    and make its Markdown inert."""
    cells = record.get("cells", [])  # in the submitted notebook's order
    by_id = {c["grade_id"]: c for c in cells if c.get("grade_id")}
    plain = [c for c in cells if not c.get("grade_id")]
    tests = record.get("tests", {})
    count = 0
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            cell.source = inert_markdown(cell.source)
        if cell.cell_type != "code":
            continue
        cell.outputs, cell.execution_count = [], None
        gid = grade_id(cell)
        if is_test_cell(cell):
            if gid in tests:
                cell.outputs = verdict_outputs(tests[gid])
                count += 1
                cell.execution_count = count
            continue
        ran = by_id.get(gid) if gid else None  # the setup cells, by grade id
        if ran is None:  # the student's cells (solutions too), in order, by their source
            while plain and plain[0]["source"] != cell.source:
                plain.pop(0)
            ran = plain.pop(0) if plain else None
        if ran is not None and ran.get("ran"):
            cell.outputs = safe_outputs(ran.get("outputs", []))
            count += 1
            cell.execution_count = count
    return nb


class ReplayOutputs(Preprocessor):
    """Fills the notebook from ``record_file`` (JSON: notebook name -> its run)."""

    record_file = Unicode("", help="The sandboxed run's record (worker.py)").tag(config=True)
    enabled = Bool(True).tag(config=True)  # nbconvert's default is off

    def preprocess(self, nb: NotebookNode, resources: dict) -> tuple[NotebookNode, dict]:
        records = json.loads(Path(self.record_file).read_text(encoding="utf-8"))
        name = resources.get("unique_key", "")
        return replay(nb, records.get(name, {})), resources
