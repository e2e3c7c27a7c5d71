"""The ``cnncourse`` a graded notebook sees inside the sandbox (``cnncourse.grading.view``):
the probe, the data and stubs of exactly the checker modules the setup imports, and none of
the course's reference code; every assignment's setup cell imports against it alone."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest

from cnncourse.checks import ps01, ps03
from cnncourse.grading import view
from cnncourse.grading.plan import plan_steps
from cnncourse.grading.view import ViewError, build_view, checker_modules, stub_source

REPO = Path(__file__).resolve().parent.parent
SOURCES = sorted((REPO / "exercises" / "source").glob("*/*.ipynb"))
PS01_SETUP = "from cnncourse.checks.ps01 import check_conv2d_loops, check_receptive_field\n"


def setup_of(path: Path) -> list[str]:
    nb = nbformat.read(path, as_version=4)
    return [s.source for s in plan_steps(nb, nb) if s.kind == "setup"]


def files(package: Path) -> set[str]:
    return {str(p.relative_to(package)) for p in package.rglob("*.py")}


def test_checker_modules_are_the_ones_the_setup_imports():
    assert checker_modules([
        "from cnncourse.checks.ps01 import check_conv2d_loops\n"
        "import cnncourse.checks.ps03 as p3\n"
        "from cnncourse.checks import ps04, _core\n"
        "from cnncourse.checks.ps01 import check_receptive_field\n"
        "from cnncourse.data import load_mnist\nimport torch\n",
        "this is not python(",
        "from cnncourse.checks.ps05.inner import x\nfrom .ps06 import y\n"]) == [
        "cnncourse.checks.ps01", "cnncourse.checks.ps03", "cnncourse.checks.ps04"]


def test_the_view_holds_the_probe_the_data_and_stubs_only(tmp_path):
    package = build_view(tmp_path, [PS01_SETUP, "from cnncourse.checks.ps03 import ALEXNET_227"])
    assert package == tmp_path / "cnncourse"
    present = files(package)
    probe = {f"probe/{p.name}" for p in (view.PACKAGE / "probe").glob("*.py")}
    data = {str(p.relative_to(view.PACKAGE)) for p in (view.PACKAGE / "data").rglob("*.py")}
    assert present == {"__init__.py", "checks/__init__.py", "checks/ps01.py",
                       "checks/ps03.py"} | probe | data
    for absent in ("models", "ops", "analysis", "checks/_core.py", "checks/ps02.py",
                   "grading", "lab"):
        assert not (package / absent).exists(), absent
    assert not list(package.rglob("__pycache__"))
    stubs = (package / "checks" / "ps01.py").read_text() + (package / "checks" / "ps03.py") \
        .read_text()
    assert "import cnncourse" not in stubs.replace("from cnncourse.probe.tools", "")
    assert "REFERENCES" not in stubs and "hidden" not in stubs.lower().replace(
        "hidden cases", "")


def load_stub(module_name: str) -> types.ModuleType:
    module = types.ModuleType(module_name)
    exec(compile(stub_source(module_name), module_name, "exec"), module.__dict__)
    return module


@pytest.mark.parametrize("module", [ps01, ps03], ids=lambda m: m.__name__)
def test_a_stub_has_every_checker_as_a_no_op_and_the_tools(module, capsys):
    stub = load_stub(module.__name__)
    checks = sorted(n for n in vars(module) if n.startswith("check_")
                    and callable(getattr(module, n)))
    assert checks and sorted(n for n in vars(stub) if n.startswith("check_")) == checks
    for name in checks:
        assert getattr(stub, name)(lambda *a: 1 / 0, hidden=True) is None  # calls nothing
        assert getattr(stub, name).__name__ == name
    printed = capsys.readouterr().out.splitlines()
    assert printed == [view.STUB_NOTE.format(name=name) for name in checks]
    for name in getattr(module, "TOOLS", ()):
        assert getattr(stub, name) == getattr(module, name)
    names = {n for n in vars(stub) if not n.startswith("__")}
    assert names == set(checks) | set(getattr(module, "TOOLS", ())) | {"_skipped"}


def test_a_tool_from_the_probe_tools_is_imported_from_there():
    from cnncourse.probe import tools

    fake = types.ModuleType("cnncourse.checks.fake_tools")
    fake.TOOLS = ("count_macs", "SIZES")
    fake.count_macs = tools.count_macs
    fake.SIZES = {"a": [1, (2, 3)], 4: None}
    fake.check_thing = lambda answer: None
    sys.modules[fake.__name__] = fake
    try:
        text = stub_source(fake.__name__)
    finally:
        del sys.modules[fake.__name__]
    assert "from cnncourse.probe.tools import count_macs" in text
    assert "SIZES = {'a': [1, (2, 3)], 4: None}" in text
    assert "check_thing = _skipped('check_thing')" in text


@pytest.mark.parametrize("tool", [
    lambda x: x,  # a function of the checker's own
    type("Reference", (), {}),  # a class
    {"net": object()},  # not plain data
    [[[[[[[[[[1]]]]]]]]]],  # nested too deep to be plain
])
def test_a_tool_that_is_not_plain_or_probe_safe_is_a_view_error(tool, tmp_path):
    fake = types.ModuleType("cnncourse.checks.fake_bad")
    fake.TOOLS = ("helper",)
    fake.helper = tool
    sys.modules[fake.__name__] = fake
    try:
        with pytest.raises(ViewError, match="helper must be plain data or come from "
                                            "cnncourse.probe.tools"):
            build_view(tmp_path, ["from cnncourse.checks.fake_bad import helper"])
    finally:
        del sys.modules[fake.__name__]


IMPORT_EVERY_SETUP = r"""
import importlib, importlib.util, json, os, sys
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path[:] = [p for p in sys.path if p and os.path.realpath(p) != sys.argv[1]]
assert importlib.util.find_spec("cnncourse") is None  # the real package is out of reach
results = {}
for name, view, sources in json.loads(sys.stdin.read()):
    for module in [m for m in sys.modules if m == "cnncourse" or m.startswith("cnncourse.")]:
        del sys.modules[module]
    sys.path.insert(0, view)
    try:
        namespace = {}
        for source in sources:
            exec(compile(source, "<setup>", "exec"), namespace)
        real = {m: importlib.util.find_spec(m) is not None for m in (
            "cnncourse.models", "cnncourse.ops", "cnncourse.analysis", "cnncourse.checks._core",
            "cnncourse.grading")}
        results[name] = {"ok": True, "file": sys.modules["cnncourse"].__file__,
                         "real": real, "checks": sorted(n for n in namespace
                                                        if n.startswith("check_"))}
    except BaseException as error:
        results[name] = {"ok": False, "error": f"{type(error).__name__}: {error}"}
    finally:
        sys.path.remove(view)
print(json.dumps(results))
"""


def test_every_assignments_setup_imports_against_the_view_alone(tmp_path):
    jobs = []
    for path in SOURCES:
        sources = setup_of(path)
        package = build_view(tmp_path / path.parent.name, sources)
        jobs.append((path.parent.name, str(package.parent), sources))
    run = subprocess.run([sys.executable, "-c", IMPORT_EVERY_SETUP, str(REPO)],
                         input=json.dumps(jobs), capture_output=True, text=True,
                         cwd=tmp_path, timeout=300, check=False,
                         env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path),
                              "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "1"})
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads(run.stdout.strip().splitlines()[-1])
    assert set(results) == {p.parent.name for p in SOURCES}
    for name, result in results.items():
        assert result["ok"], (name, result)
        assert result["file"].startswith(str(tmp_path / name)), (name, result["file"])
        assert not any(result["real"].values()), (name, result["real"])
        assert result["checks"], name


# --------------------------------------------------------------------------- the probe alone
def course_imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                found.append((node.lineno, f"<relative {node.module}>"))
            elif node.module:
                found += [(node.lineno, node.module if node.module != "cnncourse"
                           else f"cnncourse.{a.name}") for a in node.names]
    return [(line, name) for line, name in found
            if name.startswith("<relative") or name.split(".")[0] == "cnncourse"]


@pytest.mark.parametrize("path", sorted((view.PACKAGE / "probe").glob("*.py")),
                         ids=lambda p: p.name)
def test_the_probe_imports_nothing_of_the_course_outside_itself(path):
    outside = [(line, name) for line, name in course_imports(path)
               if not (name == "cnncourse.probe" or name.startswith("cnncourse.probe."))]
    assert outside == [], f"{path.name} imports {outside}"


def test_the_data_package_needs_nothing_the_view_lacks():
    for path in (view.PACKAGE / "data").rglob("*.py"):
        outside = [(line, name) for line, name in course_imports(path)
                   if name.split(".")[:2] not in (["cnncourse", "data"], ["cnncourse", "probe"])
                   and name != "cnncourse"]
        assert outside == [], f"{path.name} imports {outside}"
