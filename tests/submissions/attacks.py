"""Submissions to ps01 written to cheat, one per way of attacking the grader, and an honest
class to grade beside them (``tests/test_grading_attacks.py``).

Each attack starts from the release answered with the reference solutions (``full``,
20 points) and changes what it needs. ``deserved`` is what its honest part earns: the
grader must give at most that, and ``flag`` says it must also be flagged for review. The
attacks that reach for the course folder are told where it is (``{course}``), as a student
who guessed would be.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell

from cnncourse.grading.cells import cells_by_grade_id

Notebook = nbformat.NotebookNode
ASSIGNMENT = "ps01_convolution"
FULL = 20.0
POINTS = {"output_size": 2, "conv_loops": 4, "conv_im2col": 3, "count_parameters": 3,
          "maxpool_forward": 2, "maxpool_backward": 3, "receptive_field": 3}
STUB = "    raise NotImplementedError()\n"


@dataclass(frozen=True)
class Attack:
    student: str
    what: str
    deserved: float
    build: Callable[[Notebook, str], Notebook]  # (the full notebook, the course folder)
    flag: bool = False  # must be flagged for review
    note: str = ""  # a regular expression its reason must match


def _solutions(**sources: str) -> Callable[[Notebook, str], Notebook]:
    """Replace solution cells (``conv_loops="def conv2d_loops(...): ..."``)."""
    def build(nb: Notebook, course: str) -> Notebook:
        nb = copy.deepcopy(nb)
        cells = cells_by_grade_id(nb)
        for part, source in sources.items():
            cells[f"{part}_solution"][1].source = source.replace("{course}", course)
        return nb
    return build


def _extra(source: str, after: str = "output_size_solution",
           markdown: str | None = None) -> Callable[[Notebook, str], Notebook]:
    """Add a cell of the student's own after the cell ``after``."""
    def build(nb: Notebook, course: str) -> Notebook:
        nb = copy.deepcopy(nb)
        position = cells_by_grade_id(nb)[after][0] + 1
        added = [new_code_cell(source.replace("{course}", course))]
        if markdown is not None:
            added.insert(0, new_markdown_cell(markdown))
        nb.cells[position:position] = added
        return nb
    return build


def _both(*builds: Callable[[Notebook, str], Notebook]) -> Callable[[Notebook, str], Notebook]:
    def build(nb: Notebook, course: str) -> Notebook:
        for step in builds:
            nb = step(nb, course)
        return nb
    return build


def _stubs(nb: Notebook, course: str) -> Notebook:
    """Every solution back to the release's stub: no code at all."""
    nb = copy.deepcopy(nb)
    for gid, (_, cell) in cells_by_grade_id(nb).items():
        if gid.endswith("_solution"):
            header = cell.source.split("\n", 1)[0]
            cell.source = f"{header}\n{STUB}"
    return nb


def _metadata(nb: Notebook, course: str) -> Notebook:
    """Test cells unlocked and worth 100, checksums edited, an extra graded cell."""
    nb = copy.deepcopy(nb)
    for gid, (_, cell) in cells_by_grade_id(nb).items():
        meta = cell.metadata["nbgrader"]
        if gid.endswith("_test"):
            meta.update(points=100, locked=False, checksum="0" * 32)
    bonus = new_code_cell("print('bonus')")
    bonus.metadata["nbgrader"] = {"grade": True, "grade_id": "bonus_test", "locked": True,
                                  "points": 50, "schema_version": 3, "solution": False}
    nb.cells.append(bonus)
    return nb


def _zero_width(nb: Notebook, course: str) -> Notebook:
    """A test cell's grade id with a zero-width space: a 'new' test the student controls."""
    nb = copy.deepcopy(nb)
    cell = cells_by_grade_id(nb)["conv_loops_test"][1]
    cell.metadata["nbgrader"]["grade_id"] = "conv_loops_test\u200b"
    cell.source = "print('passed')"
    return nb


WRONG_LOOPS = ("def conv2d_loops(x, weight, bias=None, stride=1, padding=0):\n"
               "    n, _, h, w = x.shape\n    o, _, kh, kw = weight.shape\n"
               "    return x.new_zeros(n, o, (h + 2 * padding - kh) // stride + 1,\n"
               "                       (w + 2 * padding - kw) // stride + 1)\n")
WRONG_IM2COL = WRONG_LOOPS.replace("conv2d_loops", "conv2d_im2col")

FORGE_PROBE = """import gc, sys
# find the grader's probe in memory and make every answer 'ok'
for obj in gc.get_objects():
    if isinstance(obj, type) and obj.__name__ in ("ProbeServer", "Runner"):
        print("found", obj.__name__)
wire = __import__("cnncourse.probe.wire", fromlist=["encode"])
server = sys.modules.get("cnncourse.probe.server")
if server is not None:
    server.ProbeServer.handle = lambda self, message: wire.encode({"ok": True})
"""

FUNCTION_MODE = """import torch
from torch.overrides import TorchFunctionMode

class Agree(TorchFunctionMode):
    # every comparison agrees, every difference is zero
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in (torch.allclose, torch.equal):
            return True
        if getattr(func, "__name__", "") in ("__sub__", "sub", "abs", "ne", "__ne__"):
            return torch.zeros(())
        return func(*args, **kwargs)

Agree().__enter__()
"""

LYING_TENSOR = """import torch

class Liar(torch.Tensor):
    # arithmetic and comparisons on it say 'no difference'
    @classmethod
    def __torch_function__(cls, func, types, args=(), kwargs=None):
        name = getattr(func, "__name__", "")
        if name in ("__sub__", "sub", "abs", "ne", "__ne__"):
            return torch.zeros(())
        if name in ("allclose", "equal", "__eq__", "eq"):
            return True
        return super().__torch_function__(func, types, args, kwargs or {})

def conv2d_loops(x, weight, bias=None, stride=1, padding=0):
    n, _, h, w = x.shape
    o, _, kh, kw = weight.shape
    out = x.new_zeros(n, o, (h + 2 * padding - kh) // stride + 1,
                      (w + 2 * padding - kw) // stride + 1)
    return out.as_subclass(Liar)
"""

LYING_INTS = """class Yes(int):
    def __eq__(self, other):
        return True
    __hash__ = int.__hash__

class YesList(list):
    def __eq__(self, other):
        return True

def conv_output_size(n, kernel, stride=1, padding=0, dilation=1):
    return Yes(0)
"""
LYING_LIST = ("def count_parameters(layers, input_shape):\n"
              "    return YesList([0] * len(layers))\n")

ATEN_LOOPS = ("def conv2d_loops(x, weight, bias=None, stride=1, padding=0):\n"
              "    # the operator under F.conv2d, which the grader's guard does not trap\n"
              "    return torch.ops.aten.convolution(\n"
              "        x, weight, bias, [stride] * 2, [padding] * 2, [1, 1], False, [0, 0], 1)\n")

OLD_HIDDEN = {(32, 3, 1, 0, 1): 30, (32, 5, 1, 0, 1): 28, (32, 3, 1, 1, 1): 32,
              (224, 11, 4, 2, 1): 55, (32, 3, 2, 1, 1): 16, (28, 2, 2, 0, 1): 14,
              (7, 3, 1, 0, 2): 3, (5, 3, 2, 1, 1): 3, (3, 3, 2, 1, 1): 2,
              (227, 11, 4, 0, 1): 55, (10, 3, 3, 0, 1): 3, (13, 3, 1, 1, 1): 13,
              (16, 3, 1, 2, 2): 16, (1, 1, 1, 0, 1): 1, (9, 4, 2, 1, 1): 4,
              (64, 7, 2, 3, 1): 32, (56, 1, 2, 0, 1): 28, (15, 5, 3, 2, 2): 4,
              (100, 3, 7, 0, 1): 14}
LOOKUP = ("TABLE = " + repr(OLD_HIDDEN) + "\n\n"
          "def conv_output_size(n, kernel, stride=1, padding=0, dilation=1):\n"
          "    # every case the grader ever used, looked up: no formula\n"
          "    return TABLE.get((n, kernel, stride, padding, dilation), 0)\n")

SYS_MODULES = ("import sys\nKEPT = [sys.modules.get('cnncourse.ops')]\n\n"
               "def conv2d_loops(x, weight, bias=None, stride=1, padding=0):\n"
               "    return KEPT[0].conv2d_loops(x, weight, bias, stride, padding)\n")

READ_GRADEBOOKS = """import glob, os, sqlite3
# every gradebook and notebook it can find, printed into its own feedback
for path in glob.glob('{course}/**/*.db', recursive=True) + glob.glob('/**/gradebook.db'):
    try:
        rows = sqlite3.connect(path).execute('select * from grade').fetchall()
        print(path, rows)
    except Exception as error:
        print(path, error)
for path in ('{course}/canary.txt', '{course}/hidden_cases.key',
             '{course}/submitted/victim1/ps01_convolution/ps01_convolution.ipynb'):
    try:
        print(open(path).read())
    except OSError as error:
        print(error)
print(os.listdir('/'))
"""

WRITE_GRADEBOOK = """import sqlite3
try:
    db = sqlite3.connect('{course}/gradebook.db')
    db.execute("update grade set manual_score = 0")
    db.commit()
    print('wrote the gradebook')
except Exception as error:
    print('could not:', error)
"""

FORK_SURVIVOR = """import os, time
# a grandchild in a session of its own, to rewrite grades.csv after grading
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        for _ in range(120):
            time.sleep(0.5)
            try:
                open('{course}/reports/ps01_convolution/grades.csv', 'w').write('forged')
            except OSError:
                pass
    os._exit(0)
"""

CTYPES_FORK = """import ctypes, os, time
libc = ctypes.CDLL(None)
if libc.fork() == 0:
    libc.setsid()
    for _ in range(120):
        time.sleep(0.5)
        try:
            open('{course}/canary.txt', 'w').write('overwritten')
        except OSError:
            pass
"""

FILL_DISK = """chunk = b'0' * 60_000_000
for i in range(12):
    with open(f'big{i}.bin', 'wb') as handle:
        handle.write(chunk)
"""

ACTIVE_OUTPUT = """from IPython.display import HTML, SVG, Javascript, Markdown, display
display(HTML("<script>fetch('/api/contents/pwned.txt', {method: 'PUT'})</script><b>hi</b>"))
display(Javascript("fetch('/api/contents/pwned2.txt', {method: 'PUT'})"))
display(SVG('<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'))
display(Markdown('<img src="x" onerror="alert(2)">'))
"""
ACTIVE_MARKDOWN = ('<script>alert("markdown")</script>\n\n<img src="x" onerror="alert(3)">\n\n'
                   '<a href="javascript:alert(4)">click</a>')

PATCH_CALL = ("import torch.nn as nn\n"
              "nn.Module.__call__ = lambda self, *args, **kwargs: None\n")

REFERENCE_IMPORT = ("from cnncourse.ops import conv2d_loops as _reference\n\n"
                    "def conv2d_loops(x, weight, bias=None, stride=1, padding=0):\n"
                    "    return _reference(x, weight, bias, stride, padding)\n")

CHANNEL = """import os
# write a forged report into every descriptor the grader might be listening on
for fd in range(3, 12):
    try:
        head = b'CNNP' + b'\\x15\\x00\\x00\\x00\\x00\\x00\\x00\\x00'
        os.write(fd, head + b'{"event": "finished"}')
    except OSError:
        pass
"""

ATTACKS = [
    Attack("forges_probe", "no code; replaces the probe's answers with 'ok'", 0,
           _both(_stubs, _extra(FORGE_PROBE)), flag=True),
    Attack("function_mode", "two wrong parts; a global TorchFunctionMode makes every "
           "comparison agree", FULL - 4 - 3,
           _both(_solutions(conv_loops=WRONG_LOOPS, conv_im2col=WRONG_IM2COL),
                 _extra(FUNCTION_MODE)), flag=True),
    Attack("lying_tensor", "the loops part returns a tensor subclass whose arithmetic lies",
           FULL - 4, _solutions(conv_loops=LYING_TENSOR), flag=True),
    Attack("lying_ints", "an int and a list whose __eq__ always agrees", FULL - 2 - 3,
           _solutions(output_size=LYING_INTS, count_parameters=LYING_LIST)),
    Attack("aten_conv", "the loops part calls torch.ops.aten.convolution", FULL - 4,
           _solutions(conv_loops=ATEN_LOOPS), flag=True,
           note=r"conv_loops scores 0: conv2d_loops may not use torch\.ops"),
    Attack("hidden_lookup", "a lookup table of every case the grader once shipped",
           FULL - 1, _solutions(output_size=LOOKUP)),
    Attack("sys_modules", "the reference reached through sys.modules, kept in a list",
           FULL - 4, _solutions(conv_loops=SYS_MODULES), flag=True),
    Attack("reads_gradebooks", "right answers; reads and prints every gradebook it finds",
           FULL, _extra(READ_GRADEBOOKS), flag=True),
    Attack("writes_gradebook", "right answers; sets every manual score to 0", FULL,
           _extra(WRITE_GRADEBOOK), flag=True),
    Attack("fork_survivor", "right answers; leaves a process to rewrite grades.csv", FULL,
           _extra(FORK_SURVIVOR), flag=True),
    Attack("ctypes_fork", "right answers; a ctypes fork that outlives grading", FULL,
           _extra(CTYPES_FORK), flag=True),
    Attack("fills_disk", "right answers; writes 12 files of 60 MB", FULL,
           _extra(FILL_DISK), note=r"wrote more than it may"),
    Attack("active_output", "right answers; outputs and Markdown with scripts", FULL,
           _extra(ACTIVE_OUTPUT, markdown=ACTIVE_MARKDOWN)),
    Attack("patches_call", "right answers; patches nn.Module.__call__", FULL,
           _extra(PATCH_CALL), flag=True),
    Attack("edits_metadata", "test cells unlocked and worth 100, an extra graded cell",
           FULL, _metadata),
    Attack("zero_width_id", "a test cell's grade id with a zero-width space", FULL,
           _zero_width),
    Attack("imports_reference", "the loops part imports the course's reference",
           FULL - 4, _solutions(conv_loops=REFERENCE_IMPORT), flag=True),
    Attack("writes_channel", "right answers, then forged reports to the grader", FULL,
           _extra(CHANNEL, after="receptive_field_solution"), flag=True),
]

VICTIMS = ("victim1", "victim2")  # honest students graded in the same class
