"""Build ONE chapter of the book, the way `make book` would, in a minute instead of ten.

For writing a chapter: a scratch book whose table of contents holds only that page (same
``_config.yml``, bibliography and static files) is built with warnings as errors into
``/tmp/cnncourse-chapters/<chapter>/``, with its own execution cache. Warnings about links
to the other pages (absent from the scratch book) are dropped; every other warning is
printed and fails the run. It prints the page's execution time and the HTML path to open.

    .venv/bin/python scripts/build_chapter.py ch07_resnet [--fresh]

Not a substitute for `make book` (cross-page links are only checked there).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from jupyter_cache import get_cache

ROOT = Path(__file__).resolve().parents[1]
SCRATCH = Path("/tmp/cnncourse-chapters")
# warnings caused by the other pages being absent from the scratch book
ABSENT_PAGE = re.compile(r"unknown document|undefined label|toctree contains reference to "
                         r"nonexisting|term not in glossary|Unknown target name")


def build(chapter: str, fresh: bool) -> int:
    page = ROOT / "book" / f"{chapter}.md"
    if not page.is_file():
        pages = sorted(p.stem for p in (ROOT / "book").glob("*.md"))
        print(f"no page book/{chapter}.md; pages: {', '.join(pages)}")
        return 2
    project = SCRATCH / chapter / "project"
    if fresh and (SCRATCH / chapter).exists():
        shutil.rmtree(SCRATCH / chapter)
    (project / "book").mkdir(parents=True, exist_ok=True)
    for name in ("_config.yml", "references.bib"):
        shutil.copy(ROOT / name, project / name)
    for link, target in ((project / "book" / "_static", ROOT / "book" / "_static"),
                         (project / "book" / "_ext", ROOT / "book" / "_ext"),  # extension
                         (project / "book" / "data", ROOT / "book" / "data"),  # measured data
                         (project / "cnncourse", ROOT / "cnncourse")):  # literalinclude
        if not link.exists():
            link.symlink_to(target)
    shutil.copy(page, project / "book" / page.name)
    (project / "_toc.yml").write_text(f"format: jb-book\nroot: book/{chapter}\n")
    out = SCRATCH / chapter
    command = [str(Path(sys.executable).with_name("jupyter-book")), "build", str(project),
               "-W", "-n", "--keep-going", "--path-output", str(out)]
    # one page needs no released problem sets or wheel (book/_ext/cnncourse_book.py)
    result = subprocess.run(command, capture_output=True, text=True,
                            env={**os.environ, "CNNCOURSE_BOOK_DOWNLOADS": "0"})
    log = result.stdout + result.stderr
    (out / "build.log").write_text(log)
    warnings = [line for line in log.splitlines()
                if ("WARNING" in line or "ERROR" in line) and not ABSENT_PAGE.search(line)
                and "Kernel is running over TCP" not in line]
    for line in warnings:
        print(line)
    if any("Executing notebook failed" in line for line in warnings):
        tail = log[log.find("CellExecutionError"):][:4000]
        print(tail)
    cache = get_cache(out / "_build" / ".jupyter_cache")
    for record in cache.list_cache_records():
        if Path(record.uri).stem == chapter:
            seconds = record.data.get("execution_seconds", float("nan"))
            print(f"{chapter}: executed in {seconds:.1f} s")
    html = out / "_build" / "html" / "book" / f"{chapter}.html"
    print(f"html: {html}" if html.exists() else "no html written")
    print(f"log: {out / 'build.log'}")
    return 1 if warnings else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chapter", help="the page's file name without .md, e.g. ch07_resnet")
    parser.add_argument("--fresh", action="store_true", help="empty the execution cache first")
    args = parser.parse_args()
    raise SystemExit(build(args.chapter, args.fresh))


if __name__ == "__main__":
    main()
