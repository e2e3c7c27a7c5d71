"""Draw the static figures a page shows instead of the interactive ones when JavaScript is
off (the ``<noscript>`` images in ``book/_static/interactive/fallback/``): each figure is
screenshotted in Chromium in one fixed state, without its buttons and help, at the width of
the book's column. Run it after a change to a widget or to the exported weights, look at the
images, and commit them:

    .venv/bin/python scripts/interactive_fallbacks.py

The alt texts in the chapters' blocks (and in demo.html) describe these states; the script
checks that the figures are in them (the numbers the alt texts quote), so a change that
would make an alt text wrong stops here.
"""

from __future__ import annotations

import functools
import http.server
import io
import threading
from pathlib import Path

from PIL import Image

FOLDER = Path(__file__).resolve().parents[1] / "book" / "_static" / "interactive"
CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
COLUMN = 760  # about the book theme's text column, in CSS pixels
HIDDEN = ".cnn-buttons, .cnn-help, .cnn-widget details, .cnn-probs-note { display: none; }"

# widget -> (JavaScript that puts it in its state, JavaScript returning what the alt text says)
STATES = {
    "conv-arithmetic": (
        "w => { w.set({n: 5, k: 3, s: 2, p: 1, d: 1, ceil: false}); w.select(0, 1); }",
        "() => document.querySelector('[data-cnn-out=size]').getAttribute('data-cnn-size')",
        "3"),
    "receptive-field": (
        "w => {}",  # its default: LeNet-5 on 32x32, the middle unit of S4 selected
        "() => Array.from(document.querySelectorAll('[data-cnn-widget=receptive-field] "
        "[data-cnn-out=size]')).map(c => c.textContent).join(' ')",
        "1 5 6 14 16 32"),
    "draw-digit": (
        "w => { w.setModel('lenet5_modern'); w.chooseTestDigit(14); }",
        "() => String(document.querySelector('[data-cnn-widget=draw-digit]').cnnWidget"
        ".state().prediction)",
        "7"),
}


def _serve() -> tuple[http.server.ThreadingHTTPServer, str]:
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Quiet, directory=str(FOLDER)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}/demo.html"


def _small_png(png: bytes) -> bytes:
    """The screenshot with an adaptive 256-colour palette: a third of the bytes, and the
    figures have few colours."""
    image = Image.open(io.BytesIO(png)).convert("RGB").quantize(256)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def main() -> None:
    from playwright.sync_api import sync_playwright

    httpd, url = _serve()
    out = FOLDER / "fallback"
    out.mkdir(exist_ok=True)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
            page = browser.new_page(viewport={"width": COLUMN, "height": 900})
            page.goto(url)
            page.wait_for_function("() => document.querySelectorAll("
                                   "'[data-cnn-state=ready]').length === 3")
            page.add_style_tag(content=HIDDEN)
            for name, (setup, read, expected) in STATES.items():
                widget = f"document.querySelector('[data-cnn-widget={name}]').cnnWidget"
                page.evaluate(f"() => ({setup})({widget})")
                page.wait_for_timeout(200)
                found = page.evaluate(read)
                if found != expected:
                    raise SystemExit(f"{name}: the figure shows {found!r}, its alt text says "
                                     f"{expected!r}: update both")
                path = out / f"{name.replace('-', '_')}.png"
                path.write_bytes(_small_png(
                    page.locator(f"[data-cnn-widget={name}]").screenshot()))
                print(f"{path}: {path.stat().st_size / 1024:.0f} KiB")
            browser.close()
    finally:
        httpd.shutdown()


if __name__ == "__main__":
    main()
