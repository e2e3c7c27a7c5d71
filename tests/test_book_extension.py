"""The book's Sphinx extension (book/_ext/cnncourse_book.py), without building the book:
a page that reads the lab's results runs again when those results change."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import nbformat
from jupyter_cache import get_cache
from jupyter_cache.base import CacheBundleIn

SPEC = importlib.util.spec_from_file_location(
    "cnncourse_book", Path(__file__).resolve().parents[1] / "book" / "_ext" / "cnncourse_book.py")
BOOK = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(BOOK)
PAGES = {"reads.md": "results = lab.load('demo')", "other.md": "x = 1"}


def _cache_page(cache, page: Path, code: str) -> None:
    """What a build leaves in the execution cache for one executed page."""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    cache.cache_notebook_bundle(CacheBundleIn(nb, str(page)), check_validity=False,
                                overwrite=True)


def _cached(cache) -> set[str]:
    return {Path(record.uri).name for record in cache.list_cache_records()}


def test_changed_results_drop_only_the_pages_that_read_them(tmp_path):
    (tmp_path / "book").mkdir()
    manifest = tmp_path / "results" / "demo" / "manifest.json"
    manifest.parent.mkdir(parents=True)
    manifest.write_text('{"run": 1}')
    cache_path = tmp_path / "_build" / ".jupyter_cache"
    cache = get_cache(cache_path)
    for name, code in PAGES.items():
        page = tmp_path / "book" / name
        page.write_text(f"```{{code-cell}}\n{code}\n```\n")
        _cache_page(cache, page, code)
    app = SimpleNamespace(srcdir=str(tmp_path), env=SimpleNamespace(
        mystnb_config=SimpleNamespace(execution_cache_path=str(cache_path))))

    BOOK.forget_outputs_of_changed_results(app)       # no stamp yet: to be safe, drop
    assert _cached(cache) == {"other.md"}
    _cache_page(cache, tmp_path / "book" / "reads.md", PAGES["reads.md"])   # it ran again
    BOOK.forget_outputs_of_changed_results(app)       # results unchanged: keep every page
    assert _cached(cache) == {"other.md", "reads.md"}
    manifest.write_text('{"run": 2}')                 # the lab re-ran: the reader runs again
    BOOK.forget_outputs_of_changed_results(app)
    assert _cached(cache) == {"other.md"}
