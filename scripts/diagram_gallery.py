"""Write every diagram of ``cnncourse.diagrams`` (each function's default) to one HTML page,
with its alt text under it, to look at them side by side in a browser; with ``--shots``,
also screenshot the page at 1400 px and at phone width (390 px) with Chromium.

    .venv/bin/python scripts/diagram_gallery.py [OUT_DIR] [--shots]
"""

from __future__ import annotations

import argparse
import html
from pathlib import Path

from cnncourse import diagrams

CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def gallery(out: Path) -> Path:
    parts = ['<!doctype html><html lang="en"><head><meta charset="utf-8">'
             '<meta name="viewport" content="width=device-width, initial-scale=1">'
             "<title>cnncourse diagrams</title></head>"
             '<body style="font-family:sans-serif;max-width:760px;margin:auto;padding:0 12px">']
    for name in diagrams.__all__:
        if name == "Diagram":
            continue
        d = getattr(diagrams, name)()
        parts.append(f"<h2><code>{name}()</code></h2>{d._repr_html_()}"
                     f"<p><small>{html.escape(d.alt)}</small></p>")
    out.mkdir(parents=True, exist_ok=True)
    page = out / "diagrams.html"
    page.write_text("\n".join(parts) + "</body></html>", encoding="utf-8")
    return page


def screenshots(page: Path) -> list[Path]:
    from playwright.sync_api import sync_playwright

    shots = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        for width in (1400, 390):
            tab = browser.new_page(viewport={"width": width, "height": 900})
            tab.goto(page.resolve().as_uri())
            shot = page.with_name(f"diagrams_{width}.png")
            tab.screenshot(path=str(shot), full_page=True)
            shots.append(shot)
            tab.close()
        browser.close()
    return shots


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default="_build/diagrams", type=Path)
    parser.add_argument("--shots", action="store_true", help="also take screenshots")
    args = parser.parse_args()
    page = gallery(args.out)
    print(f"gallery: {page}")
    for shot in screenshots(page) if args.shots else []:
        print(f"screenshot: {shot}")


if __name__ == "__main__":
    main()
