"""The ``cnncourse`` a graded notebook sees inside the sandbox: the probe, the data, stubs.

The sandbox must hold none of the course's reference code (models, ``ops``, the judges'
expected values) and none of its hidden cases. :func:`build_view` writes a package folder
that is bound over the real one inside the sandbox:

- ``cnncourse/__init__.py``, ``cnncourse/probe/`` (the runner, the probe server), and
  ``cnncourse/data/`` (the loaders and the bundled digits the problem sets use);
- for each checker module the assignment's setup cell imports, a stub module: every
  ``check_*`` function does nothing but say the grader checks that part, and the module's
  ``TOOLS`` (plain constants, or helpers from ``cnncourse.probe.tools``) are there as in
  the real module.
"""

from __future__ import annotations

import ast
import importlib
import shutil
from pathlib import Path
from typing import Any

import cnncourse

PACKAGE = Path(cnncourse.__file__).resolve().parent
COPIED = ("__init__.py", "probe", "data")
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc")
STUB_NOTE = ("{name}: self-check skipped while the notebook is graded; the grader checks "
             "this part itself (see the test cells)")


class ViewError(ValueError):
    """A checker module whose tools cannot be put in the sandbox (a course configuration
    error, found by ``cnncourse verify`` and the tests)."""


def checker_modules(setup_sources: list[str]) -> list[str]:
    """``cnncourse.checks.psNN`` modules imported by the setup cells."""
    found: list[str] = []
    for source in setup_sources:
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                if node.module == "cnncourse.checks":
                    names = [f"cnncourse.checks.{a.name}" for a in node.names]
                else:
                    names = [node.module]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            found += [n for n in names if n.startswith("cnncourse.checks.")
                      and n.count(".") == 2 and not n.rsplit(".", 1)[1].startswith("_")]
    return list(dict.fromkeys(found))


def _is_plain(value: Any, depth: int = 0) -> bool:
    if depth > 8:
        return False
    if value is None or isinstance(value, bool | int | float | str):
        return True
    if isinstance(value, list | tuple):
        return all(_is_plain(v, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(isinstance(k, str | int) and _is_plain(v, depth + 1)
                   for k, v in value.items())
    return False


def stub_source(module_name: str) -> str:
    """The text of the sandbox's stand-in for one checker module."""
    module = importlib.import_module(module_name)
    lines = [f'"""Inside the grading sandbox: {module_name} without its judges."""', "",
             "def _skipped(name):", "    def check(*args, **kwargs):",
             f"        print({STUB_NOTE!r}.format(name=name))",
             "    check.__name__ = name", "    return check", ""]
    for name in sorted(vars(module)):
        if name.startswith("check_") and callable(getattr(module, name)):
            lines.append(f"{name} = _skipped({name!r})")
    for name in getattr(module, "TOOLS", ()):
        value = getattr(module, name)
        if _is_plain(value):
            lines.append(f"{name} = {value!r}")
        elif getattr(value, "__module__", "") == "cnncourse.probe.tools":
            lines.append(f"from cnncourse.probe.tools import {name}")
        else:
            raise ViewError(f"{module_name}.TOOLS: {name} must be plain data or come from "
                            "cnncourse.probe.tools (the sandbox holds nothing else)")
    return "\n".join(lines) + "\n"


def build_view(target: Path, setup_sources: list[str]) -> Path:
    """Write the sandbox's ``cnncourse`` package into ``target``; the package folder."""
    package = target / "cnncourse"
    package.mkdir(parents=True, exist_ok=True)
    for name in COPIED:
        source = PACKAGE / name
        if source.is_dir():
            shutil.copytree(source, package / name, ignore=_IGNORED, dirs_exist_ok=True)
        else:
            shutil.copy(source, package / name)
    checks = package / "checks"
    checks.mkdir(exist_ok=True)
    (checks / "__init__.py").write_text('"""Checker stubs (inside the grading sandbox)."""\n',
                                        encoding="utf-8")
    for module_name in checker_modules(setup_sources):
        stub = checks / (module_name.rsplit(".", 1)[1] + ".py")
        stub.write_text(stub_source(module_name), encoding="utf-8")
    return package
