"""What the cnncourse book build adds to Jupyter Book (a Sphinx extension, in _config.yml).

- **Notebook downloads.** Every notebook page offers its executed notebook (``.ipynb``) in
  the theme's download menu: myst-nb writes it to ``jupyter_execute/`` (the outputs of a
  page taken from the execution cache come from the cache); it goes next to the page's
  source in ``_sources/`` (the theme only does this itself when a launch button is set).
- **Problem sets and the package on the site.** The student version of every problem set
  (``cnncourse release`` on a temporary copy of the course) and a wheel of the package go to
  ``downloads/`` in the built HTML, so a reader of the site has everything to work offline.
  Both are cached in ``_build/.downloads`` under a hash of their sources;
  ``CNNCOURSE_BOOK_DOWNLOADS=0`` skips them (for building one chapter).
- **Accessible markup.** Two pieces of markup written by docutils and myst-nb, which
  axe-core reports against WCAG 2.1 A, are replaced in every page (``ACCESSIBLE_MARKUP``).
- **Lab results invalidate the cache.** The execution cache knows a page by its code, so a
  page that plots ``results/`` would keep its old outputs after a re-run of the lab. When the
  stored results (their manifests) changed since the last build, the cached outputs of every
  page that calls ``lab.load`` are dropped, and those pages run again.
- **Execution status.** ``{execution-status}`` is a table of every executed page: its run
  time and when it ran, from the execution cache (QuantEcon's status page, with page
  titles instead of file names).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from contextlib import suppress
from datetime import datetime
from pathlib import Path

import nbformat
from docutils import nodes
from jupyter_cache import get_cache
from myst_nb.ext.execution_tables import METADATA_KEY
from myst_nb.sphinx_ import NbMetadataCollector
from sphinx.addnodes import pending_xref
from sphinx.application import Sphinx
from sphinx.transforms.post_transforms import SphinxPostTransform
from sphinx.util import logging
from sphinx.util.docutils import SphinxDirective

LOGGER = logging.getLogger(__name__)
DOWNLOADS = "downloads"        # the folder of the built site that holds the files


# ----------------------------------------------------------------------------- lab results
LAB_STAMP = ".lab_results"     # beside the execution cache: the results it was made with


def forget_outputs_of_changed_results(app: Sphinx) -> None:
    """Drop the cached outputs of the pages that read the lab's results, if they changed."""
    root = Path(app.srcdir)
    cache_path = Path(app.env.mystnb_config.execution_cache_path)
    stamp = cache_path.parent / LAB_STAMP
    key = _digest(_files(root, "results/*/manifest.json"))
    if not cache_path.exists() or (stamp.is_file() and stamp.read_text() == key):
        stamp.parent.mkdir(parents=True, exist_ok=True)
        stamp.write_text(key)
        return
    readers = {str(p.resolve()) for p in _files(root, "book/*.md") if "lab.load(" in
               p.read_text(encoding="utf-8")}
    cache = get_cache(cache_path)
    dropped = [record for record in cache.list_cache_records()
               if str(Path(record.uri).resolve()) in readers]
    for record in dropped:
        cache.remove_cache(record.pk)
    if dropped:
        LOGGER.info(f"lab results changed: {len(dropped)} cached page(s) will run again")
    stamp.write_text(key)


# ----------------------------------------------------------------------------- .ipynb
def offer_notebook(app: Sphinx, pagename: str, templatename: str, context: dict,
                   doctree) -> None:
    """Put the executed notebook of a notebook page where the download menu links to it."""
    executed = Path(app.outdir).parent / "jupyter_execute" / f"{pagename}.ipynb"
    if doctree is None or not executed.is_file():
        return
    notebook = nbformat.read(executed, as_version=4)
    if not any(cell.get("outputs") for cell in notebook.cells):
        # myst-nb writes a page taken from the execution cache without its outputs: take
        # them from the cache, as myst-nb did to render the page
        cache = app.config.nb_execution_cache_path or Path(app.outdir).parent / ".jupyter_cache"
        with suppress(KeyError):
            _, notebook = get_cache(str(cache)).merge_match_into_notebook(notebook)
    target = Path(app.outdir) / "_sources" / f"{pagename}.ipynb"
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(notebook, target)
    context["ipynb_source"] = f"{pagename}.ipynb"


# ----------------------------------------------------------------------------- markup
# Markup that other tools write and axe-core rejects (WCAG 2.1 A), with what replaces it.
ACCESSIBLE_MARKUP = {
    # docutils marks each reference as a DPUB "doc-biblioentry", a role ARIA deprecated,
    # inside role="list": a list whose items are not "listitem" (axe: aria-deprecated-role,
    # aria-required-children)
    'role="doc-biblioentry"': 'role="listitem"',
    # myst-nb names a hidden cell's toggle "Toggle hidden content" while it shows "Show
    # code cell source" (axe: label-content-name-mismatch): let the visible text name it
    '<summary aria-label="Toggle hidden content">': "<summary>",
}


def accessible_markup(app: Sphinx, pagename: str, templatename: str, context: dict,
                      doctree) -> None:
    body = context.get("body")
    if body:
        for old, new in ACCESSIBLE_MARKUP.items():
            body = body.replace(old, new)
        context["body"] = body


# ----------------------------------------------------------------------------- downloads
def _digest(paths: list[Path]) -> str:
    h = hashlib.sha256()
    for path in sorted(paths):
        h.update(str(path).encode())
        h.update(path.read_bytes())
    return h.hexdigest()[:16]


def _files(root: Path, *patterns: str) -> list[Path]:
    return [p for pattern in patterns for p in root.glob(pattern)
            if p.is_file() and "__pycache__" not in p.parts]


def _run(command: list[str], cwd: Path, what: str) -> None:
    result = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise RuntimeError(f"{what} failed ({' '.join(command)}):\n{tail}")


def release_problem_sets(root: Path, out: Path) -> list[Path]:
    """The student notebook of every assignment, released from a temporary copy of the
    course (the real ``exercises/`` gets no gradebook or release folder from the build)."""
    with tempfile.TemporaryDirectory() as tmp:
        course = Path(tmp) / "course"
        course.mkdir()
        shutil.copytree(root / "exercises" / "source", course / "source")
        shutil.copy2(root / "exercises" / "nbgrader_config.py", course)
        _run([sys.executable, "-m", "cnncourse", "release", "--course", str(course)], root,
             "releasing the problem sets")
        released = sorted((course / "release").glob("*/*.ipynb"))
        if not released:
            raise RuntimeError("cnncourse release wrote no notebook")
        out.mkdir(parents=True, exist_ok=True)
        return [Path(shutil.copy2(nb, out / nb.name)) for nb in released]


def build_wheel(root: Path, out: Path) -> Path:
    """A wheel of the package, built from a copy (an in-tree build would leave build/)."""
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "src"
        shutil.copytree(root / "cnncourse", src / "cnncourse",
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        for name in ("pyproject.toml", "README.md"):
            shutil.copy2(root / name, src / name)
        out.mkdir(parents=True, exist_ok=True)
        _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
              "--no-build-isolation", "--wheel-dir", str(out), str(src)], root,
             "building the cnncourse wheel")
    wheels = sorted(out.glob("cnncourse-*.whl"))
    if len(wheels) != 1:
        raise RuntimeError(f"expected one wheel in {out}, found {wheels}")
    return wheels[0]


def prepare_downloads(app: Sphinx) -> None:
    """Release the problem sets and build the wheel, unless their sources are unchanged."""
    if app.builder.format != "html" or os.environ.get("CNNCOURSE_BOOK_DOWNLOADS") == "0":
        return   # scripts/build_chapter.py builds one page: no downloads needed
    root = Path(app.srcdir)
    key = _digest(_files(root, "exercises/source/**/*", "exercises/nbgrader_config.py",
                         "cnncourse/**/*.py", "cnncourse/data/*", "pyproject.toml"))
    ready = Path(app.outdir).parent / ".downloads" / key
    if not (ready / "done").is_file():
        shutil.rmtree(ready.parent, ignore_errors=True)
        LOGGER.info("releasing the problem sets and building the wheel for the site")
        release_problem_sets(root, ready / DOWNLOADS / "problem_sets")
        build_wheel(root, ready / DOWNLOADS)
        (ready / "done").write_text("ok\n")
    app.cnncourse_downloads = ready / DOWNLOADS   # not on env: nothing to pickle


def copy_downloads(app: Sphinx, exception: Exception | None) -> None:
    ready = getattr(app, "cnncourse_downloads", None)
    if exception is None and ready is not None:
        target = Path(app.outdir) / DOWNLOADS
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(ready, target)


# ----------------------------------------------------------------------------- status table
class ExecutionStatusNode(nodes.General, nodes.Element):
    """Where the table goes; filled once every page has been executed."""


class ExecutionStatus(SphinxDirective):
    """``{execution-status}``: a table of every executed page's run time."""

    def run(self) -> list[nodes.Node]:
        # myst-nb rewrites the pages carrying this mark whenever a notebook re-executes
        NbMetadataCollector.set_doc_data(self.env, self.env.docname, METADATA_KEY, True)
        return [ExecutionStatusNode()]


def _cell(content: nodes.Node | str) -> nodes.entry:
    paragraph = nodes.paragraph()
    paragraph += content if isinstance(content, nodes.Node) else nodes.Text(content)
    return nodes.entry("", paragraph)


def _title(env, page: str) -> str:
    """A page's title with its chapter number, as the table of contents shows it."""
    title = env.titles[page].astext() if page in env.titles else page
    number = env.toc_secnumbers.get(page, {}).get("")
    return f"{'.'.join(map(str, number))}. {title}" if number else title


def status_table(env, docname: str) -> nodes.table:
    """Page, run time (or "failed") and when it ran, one row per executed page."""
    rows, total = [], 0.0
    for page, data in sorted(NbMetadataCollector.get_doc_data(env).items()):
        run = data.get("exec_data")
        if not run:
            continue
        link = pending_xref(refdoc=docname, reftarget="/" + page, reftype="doc",
                            refdomain="std", refexplicit=True, refwarn=True)
        link += nodes.inline(text=_title(env, page))
        seconds = run.get("runtime")
        if not run.get("succeeded"):
            seconds_text = "failed"
        else:
            seconds_text = "-" if seconds is None else f"{seconds:.1f}"
            total += seconds or 0.0
        # no-break spaces: date and time stay on one line on a phone
        when = datetime.fromtimestamp(run["mtime"]).strftime("%d\u00a0%b\u00a0%H:%M")
        rows.append((link, seconds_text, when))
    table = nodes.table(classes=["colwidths-auto", "execution-status"])
    group = nodes.tgroup(cols=3)
    table += group
    group += [nodes.colspec(colwidth=w) for w in (60, 20, 20)]
    head = nodes.thead()
    head += nodes.row("", *(_cell(t) for t in ("page", "run time (s)", "last run")))
    body = nodes.tbody()
    for link, seconds, when in rows:
        body += nodes.row("", _cell(link), _cell(seconds), _cell(when))
    body += nodes.row("", _cell(nodes.strong(text="all pages")),
                      _cell(nodes.strong(text=f"{total:.1f}")), _cell(""))
    group += [head, body]
    return table


class ExecutionStatusTransform(SphinxPostTransform):
    default_priority = 8   # before references are resolved

    def run(self, **kwargs) -> None:
        for node in list(self.document.findall(ExecutionStatusNode)):
            node.replace_self(status_table(self.env, self.env.docname))


def setup(app: Sphinx) -> dict:
    app.add_node(ExecutionStatusNode)
    app.add_directive("execution-status", ExecutionStatus)
    app.add_post_transform(ExecutionStatusTransform)
    app.connect("builder-inited", prepare_downloads)
    # after myst-nb's own handler (priority 500), which sets the cache's path
    app.connect("builder-inited", forget_outputs_of_changed_results, priority=900)
    app.connect("build-finished", copy_downloads)
    app.connect("html-page-context", offer_notebook, priority=500)
    app.connect("html-page-context", accessible_markup)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
