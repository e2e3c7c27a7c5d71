"""The problem sets' rules, read from the submitted source in the grading process.

Inside the sandbox a guard traps forbidden calls as they happen, but code in the same
interpreter can disarm it. So the grader also reads the student's cells here:

- a part's **forbidden functions** (``FORBIDDEN`` in the checker module, e.g. no
  ``F.conv2d`` in ``conv2d_loops``) named in the graded function's body, or in the
  notebook's own helpers it uses, lose that part, with the line;
- **side doors** anywhere (computed ``getattr``, ``__import__``, ``importlib``, ``exec`` /
  ``eval``, ``ctypes``, frames, ``gc``, processes, sockets, ``sys.modules``, patching a
  library's attributes, torch function modes, the course's own modules) are flagged for a
  human to review, with the line. They do not change the score: they are how a forbidden
  call would be hidden, and also, rarely, honest code.

This is a reading of the source, not a boundary: the OS sandbox and the judge are.
"""

from __future__ import annotations

import ast
import contextlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

ALLOWED_COURSE = ("cnncourse.checks", "cnncourse.data")
SIDE_DOOR_CALLS = {
    "__import__": "__import__", "exec": "exec", "eval": "eval", "compile": "compile",
    "globals": "globals()", "breakpoint": "breakpoint",
}
SIDE_DOOR_MODULES = {  # a module (or prefix) whose use is flagged, and why
    "importlib": "importlib (imports by computed name)", "ctypes": "ctypes",
    "gc": "gc (reaches other objects in memory)", "inspect": "inspect (frames)",
    "subprocess": "subprocess", "_posixsubprocess": "_posixsubprocess", "socket": "socket",
    "multiprocessing": "multiprocessing", "signal": "signal", "builtins": "builtins",
    "pickle": "pickle", "marshal": "marshal", "threading": "threading", "pty": "pty",
    "torch.overrides": "torch.overrides", "torch.utils._python_dispatch":
    "torch's dispatch modes", "torch.ops": "torch.ops (the operators under torch's API)",
    "sqlite3": "sqlite3", "shutil": "shutil",
}
SIDE_DOOR_NAMES = {  # dotted names flagged wherever they appear
    "sys._getframe": "sys._getframe", "sys.modules": "sys.modules",
    "sys.settrace": "sys.settrace", "sys.setprofile": "sys.setprofile",
    "sys.addaudithook": "sys.addaudithook", "os.fork": "os.fork", "os.system": "os.system",
    "os.kill": "os.kill", "os.killpg": "os.killpg", "os.exec": "os.exec*",
    "os.spawn": "os.spawn*", "os.posix_spawn": "os.posix_spawn", "os.popen": "os.popen",
    "os.dup2": "os.dup2", "os.write": "os.write", "os._exit": "os._exit",
    "torch.TorchFunctionMode": "a TorchFunctionMode",
}
DUNDERS = {"__class__", "__subclasses__", "__globals__", "__code__", "__builtins__",
           "__bases__", "__mro__", "__dict__", "__closure__", "__func__", "__self__",
           "__torch_function__", "__torch_dispatch__", "__getattribute__", "__loader__",
           "__spec__", "__defaults__", "__kwdefaults__"}


@dataclass(frozen=True)
class Cell:
    position: int  # 1-based, in the submitted notebook
    source: str


@dataclass
class Findings:
    lost: dict[str, str] = field(default_factory=dict)  # part -> why it scores 0
    flags: list[str] = field(default_factory=list)  # for a human to review


def _python(source: str) -> str:
    """A cell as plain Python (IPython's ``%magic`` and ``!cmd`` become calls)."""
    from IPython.core.inputtransformer2 import TransformerManager

    with contextlib.suppress(Exception):
        return TransformerManager().transform_cell(source)
    return source


def _parse(cell: Cell) -> ast.Module | None:
    try:
        tree = ast.parse(_python(cell.source))
    except SyntaxError:
        return None
    return _SpliceMagics().visit(tree)


# IPython magics that run the Python they hold (``%%time``, ``%timeit f()``): the rules read
# that Python where the magic stands; any other magic, a shell escape or another use of
# ``get_ipython()`` runs code the grader cannot read, and is flagged
CODE_MAGICS = ("time", "timeit", "capture", "prun")
HARMLESS_MAGICS = ("matplotlib",)


def _magic(call: ast.AST) -> tuple[str, str | None, int] | None:
    """``get_ipython().run_line_magic(name, text)`` / ``run_cell_magic(name, line, body)``:
    the magic's name, the Python it holds (None if not a constant) and its first line."""
    func = call.func if isinstance(call, ast.Call) else None
    if not (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Call)
            and isinstance(func.value.func, ast.Name) and func.value.func.id == "get_ipython"
            and func.attr in ("run_line_magic", "run_cell_magic") and call.args
            and isinstance(call.args[0], ast.Constant) and isinstance(call.args[0].value, str)):
        return None
    cell = func.attr == "run_cell_magic"
    text = call.args[2 if cell else 1] if len(call.args) > (2 if cell else 1) else None
    code = text.value if isinstance(text, ast.Constant) and isinstance(text.value, str) \
        else None
    return call.args[0].value, code, call.lineno + (1 if cell else 0)


def _magic_code(name: str, code: str | None, line: int, depth: int = 0) -> list[ast.stmt] | None:
    """The statements a code-running magic holds (its options skipped), numbered as the
    cell's lines; None when they cannot be read."""
    if name not in CODE_MAGICS or code is None or depth > 3:
        return None
    words = code.split(" ")
    for skip in range(len(words) + 1):  # %timeit -n1 -r 3 f(): the options go first
        if skip and not (words[skip - 1].startswith("-") or (
                skip > 1 and words[skip - 2].startswith("-") and words[skip - 1].isalnum())):
            break
        try:
            tree = ast.parse(_python(" ".join(words[skip:])))
        except SyntaxError:
            continue
        ast.increment_lineno(tree, line - 1)
        return _SpliceMagics(depth + 1).visit(tree).body
    return None


class _SpliceMagics(ast.NodeTransformer):
    """Each simple statement followed by the statements of the code magics it calls."""

    def __init__(self, depth: int = 0) -> None:
        self.depth = depth

    def generic_visit(self, node: ast.AST) -> ast.AST | list[ast.AST]:
        node = super().generic_visit(node)
        if not isinstance(node, ast.stmt) or "body" in node._fields:  # compound: its
            return node                                                   # body is visited
        spliced: list[ast.AST] = [node]
        for call in ast.walk(node):
            magic = _magic(call)
            if magic is not None:
                spliced += _magic_code(*magic, depth=self.depth) or []
        return spliced


class _Names:
    """What a name in the notebook stands for: ``F`` -> ``torch.nn.functional``."""

    def __init__(self) -> None:
        self.aliases: dict[str, str] = {}

    def learn(self, tree: ast.AST) -> None:
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    if alias.asname:
                        self.aliases[alias.asname] = alias.name
                    else:
                        root = alias.name.split(".")[0]
                        self.aliases[root] = root
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif isinstance(node, ast.Assign) and len(node.targets) == 1 \
                    and isinstance(node.targets[0], ast.Name):
                full = self.resolve(node.value)
                if full and "." in full:  # myconv = F.conv2d
                    self.aliases[node.targets[0].id] = full

    def resolve(self, node: ast.AST) -> str | None:
        """The dotted name an expression stands for, or None."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        head = self.aliases.get(node.id, node.id)
        return ".".join([head, *reversed(parts)])


def _matches(name: str, pattern: str) -> bool:
    if pattern.endswith(".*"):
        return name == pattern[:-2] or name.startswith(pattern[:-1])
    return name == pattern or name.startswith(pattern + ".")


def _forbidden_use(node: ast.AST, names: _Names, forbidden: Iterable[str]) -> str | None:
    """The forbidden function ``node`` names (an attribute chain, a bare name, or a method
    such as ``x.unfold`` for ``torch.Tensor.unfold``)."""
    full = names.resolve(node)
    for pattern in forbidden:
        if full and _matches(full, pattern):
            return pattern.removesuffix(".*")
        method = pattern.rsplit(".", 1)
        if (isinstance(node, ast.Attribute) and method[0] == "torch.Tensor"
                and node.attr == method[1]):
            return pattern
    return None


def _definitions(trees: list[tuple[Cell, ast.Module]]) -> dict[str, tuple[Cell, ast.AST]]:
    """The last top-level definition of each function or class name."""
    found: dict[str, tuple[Cell, ast.AST]] = {}
    for cell, tree in trees:
        for node in tree.body:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                found[node.name] = (cell, node)
    return found


def _reachable(name: str, definitions: dict[str, tuple[Cell, ast.AST]]
               ) -> Iterator[tuple[Cell, ast.AST]]:
    """The definition of ``name`` and of the notebook's own functions it uses."""
    todo, seen = [name], set()
    while todo:
        current = todo.pop()
        if current in seen or current not in definitions:
            continue
        seen.add(current)
        cell, node = definitions[current]
        yield cell, node
        todo += [n.id for n in ast.walk(node) if isinstance(n, ast.Name)]


def check_forbidden(trees: list[tuple[Cell, ast.Module]], names: _Names,
                    rules: dict[str, tuple[str, tuple[str, ...]]]) -> dict[str, str]:
    """Parts whose graded function uses a forbidden function: part -> message."""
    definitions = _definitions(trees)
    lost = {}
    for part, (function, forbidden) in rules.items():
        for cell, node in _reachable(function, definitions):
            hit = next(((n, used) for n in ast.walk(node)
                        if isinstance(n, ast.Attribute | ast.Name)
                        and (used := _forbidden_use(n, names, forbidden))), None)
            if hit:
                where = f"line {hit[0].lineno} of cell {cell.position}"
                lost[part] = (f"{function} may not use {hit[1]}: {where} uses "
                              f"{ast.unparse(hit[0])}. Write that step yourself; you may "
                              "still use the library outside your function, to test it.")
                break
    return lost


def side_doors(trees: list[tuple[Cell, ast.Module]], names: _Names) -> list[str]:
    """Lines that reach past the problem set's rules, for a human to review."""
    flags: dict[str, None] = {}

    def flag(cell: Cell, node: ast.AST, what: str) -> None:
        flags[f"cell {cell.position}, line {getattr(node, 'lineno', '?')}: {what}"] = None

    for cell, tree in trees:
        readable = set()  # get_ipython() of the magics whose code is read
        for node in ast.walk(tree):
            magic = _magic(node)
            if magic is not None and (magic[0] in HARMLESS_MAGICS or _magic_code(*magic)
                                      is not None):
                readable.add(id(node.func.value.func))
            elif magic is not None:
                flag(cell, node, f"runs the IPython magic %{magic[0][:40]} (code the grader "
                                 "cannot read)")
                readable.add(id(node.func.value.func))
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                    isinstance(node.func.value, ast.Call) and \
                    isinstance(node.func.value.func, ast.Name) and \
                    node.func.value.func.id == "get_ipython" and \
                    node.func.attr in ("system", "getoutput"):
                flag(cell, node, "runs a shell command")
                readable.add(id(node.func.value.func))
        for node in ast.walk(tree):
            if isinstance(node, ast.Name) and node.id == "get_ipython" and \
                    id(node) not in readable:
                flag(cell, node, "uses get_ipython() (runs code the grader cannot read)")
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                if node.func.id in SIDE_DOOR_CALLS:
                    flag(cell, node, f"calls {SIDE_DOOR_CALLS[node.func.id]}")
                elif node.func.id in ("getattr", "setattr", "delattr") and len(node.args) > 1 \
                        and not isinstance(node.args[1], ast.Constant):
                    flag(cell, node, f"{node.func.id} with a computed name")
            if isinstance(node, ast.Import | ast.ImportFrom):
                modules = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                    [node.module or ""]
                imported = modules if isinstance(node, ast.Import) else [
                    f"{node.module}.{a.name}" for a in node.names if node.level == 0]
                doors = {**SIDE_DOOR_MODULES, **SIDE_DOOR_NAMES}
                for name in imported:  # the import itself (`import ctypes`), used or not
                    if name.endswith(".*") and any(_matches(p, name[:-2]) for p in doors):
                        flag(cell, node, f"imports * from {name[:-2]} (hides the names it "
                                         "uses)")
                    for prefix, what in doors.items():
                        if _matches(name, prefix) or (name.startswith(prefix)
                                                      and prefix in SIDE_DOOR_NAMES):
                            flag(cell, node, f"uses {what}")
                            break
                for module in modules:
                    if (module == "cnncourse" or module.startswith("cnncourse.")) and \
                            not module.startswith(ALLOWED_COURSE):
                        flag(cell, node, f"imports {module}, the course's own code (not "
                                         "there when grading)")
            if isinstance(node, ast.Attribute | ast.Name):
                full = names.resolve(node)
                if full:
                    for prefix, what in {**SIDE_DOOR_MODULES, **SIDE_DOOR_NAMES}.items():
                        if _matches(full, prefix) or (full.startswith(prefix)
                                                      and prefix in SIDE_DOOR_NAMES):
                            flag(cell, node, f"uses {what}")
                            break
                if isinstance(node, ast.Attribute) and node.attr in DUNDERS:
                    flag(cell, node, f"reaches {node.attr}")
            if isinstance(node, ast.Assign | ast.AugAssign | ast.Delete):
                targets = node.targets if isinstance(node, ast.Assign | ast.Delete) else \
                    [node.target]
                for target in targets:
                    full = names.resolve(target) if isinstance(target, ast.Attribute) else None
                    root = full.split(".")[0] if full else ""
                    if full and root in ("torch", "numpy", "math", "builtins", "sys", "os",
                                         "cnncourse"):
                        flag(cell, node, f"changes {full} (patches a library)")
    return list(flags)


def read_submission(cells: list[Cell], setup_sources: list[str],
                    rules: dict[str, tuple[str, tuple[str, ...]]]) -> Findings:
    """Apply the rules to the student's cells (``setup_sources`` give the imports)."""
    names = _Names()
    for source in setup_sources:
        tree = _parse(Cell(0, source))
        if tree is not None:
            names.learn(tree)
    trees = [(cell, tree) for cell in cells if (tree := _parse(cell)) is not None]
    for _, tree in trees:
        names.learn(tree)
    return Findings(check_forbidden(trees, names, rules), side_doors(trees, names))


def rules_of(checker_modules: Iterable[object]) -> dict[str, tuple[str, tuple[str, ...]]]:
    """The ``FORBIDDEN`` tables of the assignment's checker modules, merged; dict entries
    (a function allowed under a condition) are left to the sandbox's guard."""
    rules = {}
    for module in checker_modules:
        for part, (function, paths) in getattr(module, "FORBIDDEN", {}).items():
            rules[part] = (function, tuple(p for p in paths if isinstance(p, str)))
    return rules
