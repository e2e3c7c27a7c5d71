"""The book: it builds with warnings as errors, its pages work in a real browser, offline,
and no internal link is broken.

The book is built once per session (module-scoped fixture) exactly as ``make book`` does,
into the usual ``_build/``, so the execution cache in ``_build/.jupyter_cache`` is shared
with ``make book`` and an unchanged chapter is not re-executed. Set
``CNNCOURSE_FRESH_BOOK=1`` to build into a temporary folder with an empty cache instead
(every chapter executed from scratch, as on a fresh CI machine).

The browser is Debian's Chromium (``/usr/bin/chromium``) driven by the ``playwright``
package. Without it the browser tests skip, except under CI (``CI`` set), where they fail:
CI must prove the pages render.
"""

from __future__ import annotations

import functools
import http.server
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(3600)]

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-default-apps", "--no-first-run"]
CHAPTER_1 = "book/ch01_convolutions.html"
PAGES_IN_BROWSER = ["book/intro.html", CHAPTER_1, "book/problem_sets.html",
                    "book/instructors.html"]
MIN_FIGURES_CHAPTER_1 = 3
LOG_TAIL_LINES = 80


# --------------------------------------------------------------------------- the build
def _jupyter_book() -> str:
    """The jupyter-book next to the running Python (the course's .venv), else on PATH."""
    beside = Path(sys.executable).with_name("jupyter-book")
    if beside.exists():
        return str(beside)
    found = shutil.which("jupyter-book")
    if found is None:
        pytest.fail("jupyter-book is not installed: run `make book` (or pip install -r "
                    "requirements.txt) to create the course environment")
    return found


@pytest.fixture(scope="module")
def html_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Build the book once, as `make book` does; the folder of the built HTML."""
    command = [_jupyter_book(), "build", str(ROOT), "-W", "-n", "--keep-going"]
    build_dir = ROOT / "_build"
    if os.environ.get("CNNCOURSE_FRESH_BOOK"):
        out = tmp_path_factory.mktemp("book")
        command += ["--path-output", str(out)]
        build_dir = out / "_build"
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                            timeout=3000, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    log = result.stdout + result.stderr
    build_dir.mkdir(parents=True, exist_ok=True)
    log_file = build_dir / "book-build.log"
    log_file.write_text(log, encoding="utf-8")
    if result.returncode != 0:
        tail = "\n".join(log.splitlines()[-LOG_TAIL_LINES:])
        pytest.fail(f"`{' '.join(command)}` failed with exit code {result.returncode} "
                    f"(full log: {log_file}). A warning counts as an error (-W): fix the "
                    f"page or cell named below.\n--- last {LOG_TAIL_LINES} lines ---\n{tail}")
    return build_dir / "html"


def _toc_files() -> list[str]:
    """Every page named in _toc.yml (root and `file:` entries), without extension."""
    text = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    return re.findall(r"^\s*(?:root|-?\s*file):\s*(\S+)\s*$", text, flags=re.MULTILINE)


def test_every_page_of_the_toc_is_built(html_root: Path) -> None:
    pages = _toc_files()
    assert "book/intro" in pages and "book/ch01_convolutions" in pages, pages
    missing = [p for p in pages if not (html_root / f"{p}.html").is_file()]
    assert not missing, f"pages in _toc.yml without a built HTML file: {missing}"
    assert (html_root / "index.html").is_file(), "no index.html at the top of the book"


def test_glued_numbers_and_math_are_in_the_chapter(html_root: Path) -> None:
    """Chapter 1 quotes computed numbers (glue) and typesets formulas with local MathJax."""
    page = (html_root / CHAPTER_1).read_text(encoding="utf-8")
    glued = re.findall(r'<span class="pasted-text">([^<]+)</span>', page)
    assert len(glued) >= 20, f"expected many glued numbers in chapter 1, found {glued}"
    assert "2,103,156" in glued, "the total of the lecture's network C is not glued in"
    assert re.search(r'src="\.\./_static/mathjax/tex-chtml\.js[?"]', page), (
        "MathJax is not served from _static/mathjax: is sphinx-mathjax-offline installed "
        "and listed in _config.yml?")
    assert (html_root / "_static" / "mathjax" / "tex-chtml.js").is_file()


# --------------------------------------------------------------------------- links
class _LinkParser(HTMLParser):
    """Collects the ids of a page and the local URLs it points to."""

    URL_ATTRIBUTES = {"a": "href", "link": "href", "img": "src", "script": "src",
                      "source": "src", "iframe": "src"}

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        for key in ("id", "name"):
            if values.get(key):
                self.ids.add(values[key])
        url = values.get(self.URL_ATTRIBUTES.get(tag, ""))
        if url:
            self.urls.append(url)


@functools.cache
def _parse(path: Path) -> _LinkParser:
    parser = _LinkParser()
    parser.feed(path.read_text(encoding="utf-8", errors="replace"))
    return parser


def _built_pages(html_root: Path) -> list[Path]:
    """The HTML pages of the book (not the theme's templates in _static)."""
    skipped = {"_static", "_sources", "_images"}
    return sorted(p for p in html_root.rglob("*.html")
                  if not any(part in skipped or part.startswith(".")
                             for part in p.relative_to(html_root).parts))


def test_no_broken_internal_links(html_root: Path) -> None:
    broken = []
    pages = _built_pages(html_root)
    assert len(pages) >= 4, pages
    for page in pages:
        for url in _parse(page).urls:
            parts = urlsplit(url)
            if parts.scheme or parts.netloc or url.startswith(("data:", "javascript:")):
                continue  # external: the page must not need it (checked in the browser)
            target = page if not parts.path else (page.parent / unquote(parts.path)).resolve()
            if target.is_dir():
                target = target / "index.html"
            where = f"{page.relative_to(html_root)} -> {url}"
            if not target.is_file():
                broken.append(f"{where}: no file {target}")
                continue
            fragment = unquote(parts.fragment)
            if fragment and target.suffix == ".html" and fragment not in _parse(target).ids:
                broken.append(f"{where}: no id '{fragment}' in {target.name}")
    assert not broken, "broken internal links:\n" + "\n".join(broken)


# --------------------------------------------------------------------------- the browser
@pytest.fixture(scope="module")
def server(html_root: Path) -> Iterator[str]:
    """The built book on http://127.0.0.1:<free port>/ for the length of the module."""

    class QuietHandler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep pytest's output clean
            pass

    handler = functools.partial(QuietHandler, directory=str(html_root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _no_browser(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"{reason}. CI must check the book in a browser: install Debian's "
                    f"chromium (`apt-get install chromium`, giving {CHROMIUM}) and the "
                    "playwright package (requirements.txt).")
    pytest.skip(f"{reason}; install chromium (apt-get install chromium) to run this test")


@pytest.fixture(scope="module")
def browser(server: str):
    try:
        from playwright.sync_api import Error as PlaywrightError
        from playwright.sync_api import sync_playwright
    except ImportError:
        _no_browser("the playwright package is not installed")
    if not CHROMIUM.exists():
        _no_browser(f"no browser at {CHROMIUM}")
    with sync_playwright() as playwright:
        try:
            chromium = playwright.chromium.launch(executable_path=str(CHROMIUM),
                                                  args=BROWSER_ARGS)
        except PlaywrightError as error:
            _no_browser(f"{CHROMIUM} does not start under playwright ({error})")
        yield chromium
        chromium.close()


def _open(browser, url: str):
    """Load a page, recording every request that leaves 127.0.0.1."""
    page = browser.new_page(viewport={"width": 1280, "height": 1000})
    outside: list[str] = []
    page.on("request", lambda request: outside.append(request.url)
            if urlsplit(request.url).hostname not in ("127.0.0.1", None) else None)
    page.goto(url, wait_until="networkidle")
    # MathJax typesets after the load event; wait until it has (or there is no math)
    page.wait_for_function("() => !window.MathJax || (window.MathJax.startup && "
                           "window.MathJax.startup.promise)")
    page.evaluate("() => window.MathJax ? window.MathJax.startup.promise : null")
    return page, outside


IMAGES_JS = """() => Array.from(document.images).map(img => ({
    src: img.getAttribute('src'), complete: img.complete,
    width: img.naturalWidth, alt: img.getAttribute('alt') || ''}))"""


@pytest.mark.parametrize("page_path", PAGES_IN_BROWSER)
def test_page_loads_offline_with_its_images(browser, server: str, html_root: Path,
                                            page_path: str) -> None:
    page, outside = _open(browser, server + page_path)
    try:
        images = page.evaluate(IMAGES_JS)
        broken = [img["src"] for img in images if not img["complete"] or img["width"] == 0]
        assert not broken, f"{page_path}: images that did not load: {broken}"
        assert not outside, (f"{page_path} fetched from outside the book (it must work "
                             f"offline): {outside}")
        errors = page.locator("mjx-merror").count()
        assert errors == 0, f"{page_path}: {errors} formulas MathJax could not typeset"
        shots = html_root.parent / "screenshots"
        shots.mkdir(exist_ok=True)
        page.screenshot(path=str(shots / (Path(page_path).stem + ".png")), full_page=True)
    finally:
        page.close()


def test_chapter_1_shows_its_figures_and_formulas(browser, server: str) -> None:
    page, _ = _open(browser, server + CHAPTER_1)
    try:
        figures = page.locator("figure img")
        n_figures = figures.count()
        assert n_figures >= MIN_FIGURES_CHAPTER_1, (
            f"chapter 1 shows {n_figures} figures, expected at least {MIN_FIGURES_CHAPTER_1}")
        images = page.evaluate(IMAGES_JS)
        loaded = [img for img in images if img["width"] > 0]
        assert len(loaded) >= MIN_FIGURES_CHAPTER_1
        without_alt = [img["src"] for img in images if not img["alt"].strip()]
        assert not without_alt, f"figures without alt text: {without_alt}"
        assert page.locator("mjx-container").count() >= 10, "the formulas were not typeset"
        assert page.locator("table").count() >= 5, "the computed tables are missing"
    finally:
        page.close()
