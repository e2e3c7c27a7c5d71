"""The problem sets' rules read from the submitted source (``cnncourse.grading.policy``):
a forbidden function reached from the graded function, however it is named, loses the part
with its line; the library used outside the graded function does not; every side door is
flagged with its line; the source notebooks' own answers raise nothing at all."""

from __future__ import annotations

import importlib
from pathlib import Path

import nbformat
import pytest

from cnncourse.checks import ps01
from cnncourse.grading import policy
from cnncourse.grading.judge import checker_names
from cnncourse.grading.plan import plan_steps
from cnncourse.grading.policy import Cell

REPO = Path(__file__).resolve().parent.parent
SOURCES = sorted((REPO / "exercises" / "source").glob("*/*.ipynb"))
SETUP = ["import math\n\nimport torch\nimport torch.nn.functional as F\n\n"
         "from cnncourse.checks.ps01 import check_conv2d_loops, check_conv2d_im2col\n"]
RULES = policy.rules_of([ps01])


def read(cells: list[str], setup: list[str] = SETUP) -> policy.Findings:
    return policy.read_submission([Cell(i, text) for i, text in enumerate(cells, start=3)],
                                  setup, RULES)


def test_the_rules_come_from_the_checker_modules_forbidden_tables():
    assert RULES["conv_loops"][0] == "conv2d_loops"
    assert "torch.nn.functional.conv2d" in RULES["conv_loops"][1]
    assert "torch.ops.*" in RULES["conv_im2col"][1]

    class Conditional:
        FORBIDDEN = {"grouped": ("f", ({"path": "torch.nn.functional.conv2d",
                                        "unless": {"name": "groups"}}, "torch.conv2d"))}

    assert policy.rules_of([Conditional]) == {"grouped": ("f", ("torch.conv2d",))}


@pytest.mark.parametrize(("cells", "where", "named"), [
    (["def conv2d_loops(x, weight):\n    return F.conv2d(x, weight)\n"], "line 2 of cell 3",
     "F.conv2d"),
    (["def conv2d_loops(x, weight):\n    return torch.nn.functional.conv2d(x, weight)\n"],
     "line 2 of cell 3", "torch.nn.functional.conv2d"),
    (["from torch.nn.functional import conv2d as c\n\ndef conv2d_loops(x, weight):\n"
      "    y = x\n    return c(y, weight)\n"], "line 5 of cell 3", "c"),
    (["import torch.nn.functional as G\n", "def conv2d_loops(x, weight):\n"
      "    return G.conv2d(x, weight)\n"], "line 2 of cell 4", "G.conv2d"),
    (["myconv = F.conv2d\n", "def conv2d_loops(x, weight):\n    return myconv(x, weight)\n"],
     "line 2 of cell 4", "myconv"),
    (["def helper(x, weight):\n    return torch.conv2d(x, weight)\n",
      "def conv2d_loops(x, weight):\n    return helper(x, weight)\n"], "line 2 of cell 3",
     "torch.conv2d"),
    (["def conv2d_loops(x, weight):\n    return torch.ops.aten.convolution(x, weight, None, "
      "[1, 1], [0, 0], [1, 1], False, [0, 0], 1)\n"], "line 2 of cell 3",
     "torch.ops.aten.convolution"),
    (["def conv2d_loops(x, weight):\n    patches = x.unfold(2, 3, 1)\n    return patches\n"],
     "line 2 of cell 3", "x.unfold"),
    (["def conv2d_loops(x, weight):\n    layer = torch.nn.Conv2d(1, 1, 3)\n"
      "    return layer(x)\n"], "line 2 of cell 3", "torch.nn.Conv2d"),
])
def test_a_forbidden_function_reached_from_the_graded_function_loses_the_part(
        cells, where, named):
    findings = read(cells)
    assert set(findings.lost) == {"conv_loops"}
    message = findings.lost["conv_loops"]
    assert message.startswith("conv2d_loops may not use ")
    assert f"{where} uses {named}." in message


def test_the_library_outside_the_graded_function_costs_nothing():
    findings = read(["def conv2d_loops(x, weight):\n    return x\n",
                     "expected = F.conv2d(x, weight)  # a self-check\n"
                     "print((conv2d_loops(x, weight) - expected).abs().max())\n",
                     "def conv2d_im2col(x, weight):\n    cols = F.unfold(x, 3)\n"
                     "    return cols\n"])
    assert findings.lost == {} and findings.flags == []


def test_the_last_definition_is_the_graded_one():
    findings = read(["def conv2d_loops(x, weight):\n    return F.conv2d(x, weight)\n",
                     "def conv2d_loops(x, weight):\n    return x\n"])
    assert findings.lost == {}
    findings = read(["def conv2d_loops(x, weight):\n    return x\n",
                     "def conv2d_loops(x, weight):\n    return F.conv2d(x, weight)\n"])
    assert set(findings.lost) == {"conv_loops"}


@pytest.mark.parametrize(("source", "line", "what"), [
    ("name = 'con' + 'v2d'\nfn = getattr(F, name)\n", 2, "getattr with a computed name"),
    ("x = 1\nsetattr(F, 'conv' + '2d', None)\n", 2, "setattr with a computed name"),
    ("m = __import__('os')\n", 1, "calls __import__"),
    ("import importlib\nimportlib.import_module('os')\n", 1, "uses importlib"),
    ("exec('x = 1')\n", 1, "calls exec"),
    ("y = eval('1 + 1')\n", 1, "calls eval"),
    ("g = globals()\n", 1, "calls globals()"),
    ("import ctypes\n", 1, "uses ctypes"),
    ("import sys\nframe = sys._getframe(1)\n", 2, "uses sys._getframe"),
    ("import sys\nmods = sys.modules\n", 2, "uses sys.modules"),
    ("import gc\n", 1, "uses gc"),
    ("import inspect\n", 1, "uses inspect"),
    ("import subprocess\n", 1, "uses subprocess"),
    ("from _posixsubprocess import fork_exec\n", 1, "uses _posixsubprocess"),
    ("import os\npid = os.fork()\n", 2, "uses os.fork"),
    ("import os\nos.system('ls')\n", 2, "uses os.system"),
    ("import socket\n", 1, "uses socket"),
    ("import sqlite3\n", 1, "uses sqlite3"),
    ("import pickle\n", 1, "uses pickle"),
    ("from torch.overrides import TorchFunctionMode\n", 1, "uses torch.overrides"),
    ("class M(torch.overrides.TorchFunctionMode):\n    pass\n", 1, "uses torch.overrides"),
    ("op = torch.ops.aten.add\n", 1, "uses torch.ops"),
    ("import cnncourse.ops\n", 1, "imports cnncourse.ops, the course's own code"),
    ("from cnncourse.checks import _core\n", 1, None),  # allowed package, no flag
    ("x = 1\nF.conv2d = lambda *a: None\n", 2, "changes torch.nn.functional.conv2d"),
    ("torch.Tensor.__sub__ = None\n", 1, "changes torch.Tensor.__sub__"),
    ("t = torch.zeros(1)\nk = t.__class__\n", 2, "reaches __class__"),
    ("subs = object.__subclasses__()\n", 1, "reaches __subclasses__"),
    ("def f():\n    pass\ng = f.__globals__\n", 3, "reaches __globals__"),
    ("from os import *\nfork()\n", 1, "imports * from os"),
    ("from ctypes import CDLL\n", 1, "uses ctypes"),
    ("import ctypes as c\nlib = c.CDLL(None)\n", 2, "uses ctypes"),
    # IPython: the code magics are read as Python where they stand; the rest is flagged
    ("%time x = eval('1')\n", 1, "calls eval"),
    ("x = 1\n%timeit -n1 -r 3 exec('1')\n", 2, "calls exec"),
    ("%%time\nimport math\nimport ctypes\n", 3, "uses ctypes"),
    ("def f():\n    %time g(eval('2'))\n", 2, "calls eval"),
    ("!ls /\n", 1, "runs a shell command"),
    ("x = 1\nout = !cat /etc/passwd\n", 2, "runs a shell command"),
    ("%%writefile helper.py\nimport ctypes\n", 1, "runs the IPython magic %writefile"),
    ("%run helper.py\n", 1, "runs the IPython magic %run"),
    ("shell = get_ipython()\nshell.run_cell('x = 1')\n", 1, "uses get_ipython()"),
    ("%matplotlib inline\n", 1, None),
])
def test_side_doors_are_flagged_with_their_line(source, line, what):
    findings = read(["x = 0\n", source])
    assert findings.lost == {}
    if what is None:
        assert findings.flags == []
        return
    assert any(f.startswith(f"cell 4, line {line}: {what}") for f in findings.flags), \
        findings.flags


def test_honest_lookalikes_are_not_flagged():
    findings = read(["layer = torch.nn.Linear(2, 2)\nw = getattr(layer, 'weight')\n"
                     "import math, time, random\nprint(math.sqrt(2), time.perf_counter())\n"
                     "x = torch.zeros(2)\nx.sub_(1)\nlayer.weight = torch.nn.Parameter(w)\n"
                     "from cnncourse.data import load_digits\n",
                     "def shapes(model):\n    return [p.shape for p in model.parameters()]\n"])
    assert findings.flags == [] and findings.lost == {}


def test_a_graded_function_defined_inside_a_code_magic_is_read():
    findings = read(["%%time\ndef conv2d_loops(x, weight):\n    return F.conv2d(x, weight)\n"])
    assert "line 3 of cell 3 uses F.conv2d" in findings.lost["conv_loops"]


def test_a_cell_that_is_not_python_is_skipped():
    findings = read(["def conv2d_loops(x, weight:\n    return F.conv2d(x, weight)\n",
                     "import ctypes\n"])
    assert findings.lost == {} and findings.flags == ["cell 4, line 1: uses ctypes"]


def source_submission(path: Path) -> tuple[list[Cell], list[str], dict]:
    nb = nbformat.read(path, as_version=4)
    steps = plan_steps(nb, nb)
    setup = [s.source for s in steps if s.kind == "setup"]
    modules = {c.__module__ for c in checker_names(setup).values()}
    rules = policy.rules_of(importlib.import_module(m) for m in modules)
    cells = [Cell(s.position, s.source) for s in steps if s.kind == "student"]
    return cells, setup, rules


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: p.parent.name)
def test_the_source_notebooks_honest_answers_raise_no_flag_at_all(path):
    cells, setup, rules = source_submission(path)
    assert any("### BEGIN SOLUTION" in c.source for c in cells)
    findings = policy.read_submission(cells, setup, rules)
    assert findings.lost == {} and findings.flags == []


def test_every_rule_of_the_source_notebooks_names_a_function_they_define():
    for path in SOURCES:
        cells, _, rules = source_submission(path)
        text = "\n".join(c.source for c in cells)
        for part, (function, _) in rules.items():
            assert f"def {function}(" in text, (path.name, part)
