"""nbgrader's Execute preprocessor with a cap on each cell's output (every output type).

A cell printing 100 MB, or displaying a huge image, would otherwise end up in the
autograded notebook, the gradebook's memory and the feedback page. Output beyond
:attr:`LimitedExecute.max_output_bytes` per cell is dropped as it arrives, and one line
in the cell says so (``cnncourse grade`` reports the cell in the score table).
"""

from __future__ import annotations

from nbformat.notebooknode import NotebookNode
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute
from traitlets import Integer

TRUNCATED = "[output cut by the grader]"
OUTPUT_LIMIT = 1_000_000  # bytes of output kept per cell


def truncation_note(limit: int) -> str:
    return (f"\n{TRUNCATED} this cell produced more than {limit // 1000} kB of output; the "
            "rest was dropped. Print a summary (a shape, a few values) instead.\n")


def _size(content: dict) -> int:
    """Bytes of a message's payload, roughly (text and encoded images dominate)."""
    total = len(content.get("text", "") or "")
    for value in (content.get("data") or {}).values():
        total += len(value) if isinstance(value, str) else len(str(value))
    total += sum(len(line) for line in content.get("traceback", []) or [])
    return total


class LimitedExecute(Execute):
    """Execute, keeping at most ``max_output_bytes`` of output per cell."""

    max_output_bytes = Integer(
        OUTPUT_LIMIT, help="Output kept per cell, in bytes; the rest is dropped with a note."
    ).tag(config=True)

    def output(self, outs: list[NotebookNode], msg: dict, display_id: str | None,
               cell_index: int) -> NotebookNode | None:
        used = getattr(self, "_output_used", None)
        if used is None:
            used = self._output_used = {}
        size = _size(msg.get("content", {}))
        spent = used.get(cell_index, 0)
        if spent + size > self.max_output_bytes and msg.get("msg_type") != "error":
            if spent <= self.max_output_bytes:  # the first time: say so, once
                used[cell_index] = self.max_output_bytes + 1
                note = new_output("stream", name="stderr",
                                  text=truncation_note(self.max_output_bytes))
                outs.append(note)
                return note
            return None
        used[cell_index] = spent + size
        return super().output(outs, msg, display_id, cell_index)
