"""A cell's outputs as a notebook would show them, and only what no browser runs.

:class:`Recorder` keeps one cell's outputs as nbformat dicts: streams, displays, the value
of the last expression, the error. :func:`inert` is the only way a display gets in: text,
and PNG or JPEG images whose bytes are checked; HTML, JavaScript, SVG, Markdown and LaTeX
are dropped (their text form stays). Output beyond :data:`OUTPUT_LIMIT` bytes a cell is
dropped, with one note saying so.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Callable
from typing import Any

OUTPUT_LIMIT = 1_000_000  # bytes of output kept per cell
TRUNCATED = "[output cut by the grader]"
KEPT_MIMETYPES = ("text/plain", "image/png", "image/jpeg")
IMAGE_LIMIT = 2_000_000  # bytes of one image


class Recorder:
    """One cell's outputs as nbformat dicts, capped at OUTPUT_LIMIT bytes."""

    def __init__(self) -> None:
        self.outputs: list[dict] = []
        self.size = 0
        self.cut = False

    def _room(self, size: int) -> bool:
        if self.cut:  # once cut, the rest is dropped (small writes after a large one too)
            return False
        if self.size + size > OUTPUT_LIMIT:
            if not self.cut:
                self.cut = True
                self.outputs.append({"output_type": "stream", "name": "stderr",
                                     "text": f"\n{TRUNCATED} this cell produced more than "
                                             f"{OUTPUT_LIMIT // 1000} kB of output; the rest "
                                             "was dropped. Print a summary (a shape, a few "
                                             "values) instead.\n"})
            return False
        self.size += size
        return True

    def stream(self, name: str, text: str) -> None:
        if not text or not self._room(len(text)):
            return
        last = self.outputs[-1] if self.outputs else None
        if last and last["output_type"] == "stream" and last["name"] == name:
            last["text"] += text
        else:
            self.outputs.append({"output_type": "stream", "name": name, "text": text})

    def rich(self, kind: str, data: dict) -> None:
        size = sum(len(v) for v in data.values() if isinstance(v, str | bytes)) \
            if isinstance(data, dict) else 0
        if size > OUTPUT_LIMIT - self.size:  # an image too large: cut, and said so
            self._room(size)
            return
        kept = inert(data)
        if kept and self._room(sum(len(v) for v in kept.values())):
            output = {"output_type": kind, "data": kept, "metadata": {}}
            if kind == "execute_result":
                output["execution_count"] = None
            self.outputs.append(output)

    def error(self, ename: str, evalue: str, traceback: list[str]) -> None:
        evalue = evalue[:20_000]
        traceback = [line[:5_000] for line in traceback[-30:]]
        self.size += len(evalue) + sum(map(len, traceback))
        self.outputs.append({"output_type": "error", "ename": ename[:200], "evalue": evalue,
                             "traceback": traceback})


def inert(data: Any) -> dict[str, str]:
    """The mimetypes of a display that no browser runs: text and checked images. HTML,
    JavaScript, SVG, Markdown and LaTeX are dropped (their text/plain form stays)."""
    kept = {}
    if not isinstance(data, dict):
        return kept
    text = data.get("text/plain")
    if isinstance(text, str):
        kept["text/plain"] = text
    for kind, magic in (("image/png", b"\x89PNG\r\n\x1a\n"), ("image/jpeg", b"\xff\xd8\xff")):
        value = data.get(kind)
        if isinstance(value, bytes):
            value = base64.b64encode(value).decode()
        if isinstance(value, str) and len(value) <= IMAGE_LIMIT * 4 // 3:
            try:
                raw = base64.b64decode(value, validate=True)
            except ValueError:
                continue
            if raw.startswith(magic):
                kept[kind] = value
    return kept


class Stream(io.TextIOBase):
    def __init__(self, recorder: Callable[[], Recorder], name: str) -> None:
        self._recorder, self.name_ = recorder, name

    def writable(self) -> bool:
        return True

    def write(self, text: Any) -> int:
        text = str(text)
        self._recorder().stream(self.name_, text)
        return len(text)

    def flush(self) -> None:
        return None
