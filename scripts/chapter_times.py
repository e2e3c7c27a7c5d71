"""Print how long each page of the last book build took to execute (a benchmark, not a test).

Run after ``make book``: the build's execution cache records each notebook's run time.
Usage: .venv/bin/python scripts/chapter_times.py [BOOK_DIR]
"""

from __future__ import annotations

import sys
from pathlib import Path

from jupyter_cache import get_cache


def execution_seconds(book: Path) -> dict[str, float]:
    cache = get_cache(book / "_build" / ".jupyter_cache")
    return {Path(record.uri).stem: record.data.get("execution_seconds", float("nan"))
            for record in cache.list_cache_records()}


def main() -> None:
    book = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1]
    times = execution_seconds(book)
    for page, seconds in sorted(times.items()):
        print(f"{page:28s} {seconds:6.1f} s")
    print(f"{'total':28s} {sum(times.values()):6.1f} s")


if __name__ == "__main__":
    main()
