"""Drawing primitives: a canvas that records what it draws and writes SVG, and ``Diagram``.

The canvas keeps the bounding box of every text, box and line it draws, so a test can check
that no label overlaps another label, a box or a line. Text widths are measured with the
font the SVG asks for first (DejaVu Sans, shipped with matplotlib), so boxes fit their text.
"""

from __future__ import annotations

import functools
import html
import math
from dataclasses import dataclass, field
from pathlib import Path

from cnncourse.palette import GREY, GREY_DARK, GREY_LIGHT, OKABE_ITO, shade, tint

FONT_FAMILY = "'DejaVu Sans', Verdana, 'Bitstream Vera Sans', sans-serif"
TITLE_SIZE = 13.0      # a box's first line
DETAIL_SIZE = 11.5     # a box's other lines and the labels on arrows
TEXT_COLOUR = "#1A1A1A"
MIN_SCALE = 0.75       # a diagram is never shown smaller than this (see Diagram._repr_html_)

# What a box is, and its colour: the fill is a light tint (black text stays readable on it),
# the border the colour itself (yellow darkened: it is too light for a line on white).
ROLES: dict[str, str] = {
    "conv": OKABE_ITO["sky_blue"],
    "pointwise": OKABE_ITO["blue"],
    "depthwise": OKABE_ITO["bluish_green"],
    "pool": OKABE_ITO["orange"],
    "norm": OKABE_ITO["yellow"],
    "linear": OKABE_ITO["reddish_purple"],
    "gate": OKABE_ITO["vermillion"],
    "merge": "#000000",
    "act": GREY,
    "io": GREY,
}


def fill_of(role: str) -> str:
    if role in ("merge", "act"):
        return "#FFFFFF"
    if role == "io":
        return GREY_LIGHT
    return tint(ROLES[role], 0.28)


def stroke_of(role: str) -> str:
    colour = ROLES[role]
    return shade(colour, 0.7) if role == "norm" else colour


@functools.cache
def _font():
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    return FT2Font(font_manager.findfont("DejaVu Sans"))


@functools.cache
def text_width(text: str, size: float) -> float:
    """Width in pixels of ``text`` set in DejaVu Sans at ``size`` px."""
    font = _font()
    font.set_size(size, 72)   # 72 dpi: one point is one pixel
    font.set_text(text, 0.0)
    return font.get_width_height()[0] / 64.0


@dataclass(frozen=True)
class Rect:
    """An axis-aligned rectangle: left, top, right, bottom."""

    x0: float
    y0: float
    x1: float
    y1: float

    def intersects(self, other: Rect, tolerance: float = 0.5) -> bool:
        return (self.x0 < other.x1 - tolerance and other.x0 < self.x1 - tolerance
                and self.y0 < other.y1 - tolerance and other.y0 < self.y1 - tolerance)

    def contains(self, other: Rect, tolerance: float = 0.5) -> bool:
        return (self.x0 - tolerance <= other.x0 and other.x1 <= self.x1 + tolerance
                and self.y0 - tolerance <= other.y0 and other.y1 <= self.y1 + tolerance)

    def crosses(self, a: tuple[float, float], b: tuple[float, float]) -> bool:
        """Whether the segment a-b (horizontal or vertical, as all our lines) enters the box."""
        (xa, ya), (xb, yb) = a, b
        if xa == xb:
            return self.x0 < xa < self.x1 and max(ya, yb) > self.y0 and min(ya, yb) < self.y1
        if ya == yb:
            return self.y0 < ya < self.y1 and max(xa, xb) > self.x0 and min(xa, xb) < self.x1
        # a slanted line (the towers' crossings): sample it
        return any(self.x0 < xa + (xb - xa) * t < self.x1 and self.y0 < ya + (yb - ya) * t < self.y1
                   for t in (i / 40 for i in range(41)))


@dataclass(frozen=True)
class Text:
    text: str
    rect: Rect
    owner: int | None     # the index of the shape the text sits in, or None for a free label


@dataclass
class Canvas:
    """Collects SVG elements and the geometry of everything drawn."""

    elements: list[str] = field(default_factory=list)
    texts: list[Text] = field(default_factory=list)
    shapes: list[Rect] = field(default_factory=list)
    segments: list[tuple[tuple[float, float], tuple[float, float]]] = field(default_factory=list)

    def box(self, x: float, y: float, w: float, h: float, role: str,
            rounded: float = 5.0) -> int:
        self.elements.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="{rounded:g}" '
            f'fill="{fill_of(role)}" stroke="{stroke_of(role)}" stroke-width="1.5"/>')
        self.shapes.append(Rect(x, y, x + w, y + h))
        return len(self.shapes) - 1

    def circle(self, cx: float, cy: float, r: float, role: str = "merge") -> int:
        self.elements.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="{r:g}" '
                             f'fill="{fill_of(role)}" stroke="{stroke_of(role)}" '
                             'stroke-width="1.5"/>')
        self.shapes.append(Rect(cx - r, cy - r, cx + r, cy + r))
        return len(self.shapes) - 1

    def text(self, x: float, cy: float, text: str, size: float = DETAIL_SIZE,
             anchor: str = "middle", owner: int | None = None, bold: bool = False,
             colour: str = TEXT_COLOUR) -> Rect:
        """Text whose vertical centre is ``cy``; ``anchor`` "start" puts its left end at x,
        "end" its right end."""
        width = text_width(text, size)
        x0 = {"middle": x - width / 2, "start": x, "end": x - width}[anchor]
        rect = Rect(x0, cy - 0.62 * size, x0 + width, cy + 0.62 * size)
        weight = ' font-weight="bold"' if bold else ""
        self.elements.append(
            f'<text x="{x:.1f}" y="{cy + 0.36 * size:.1f}" font-size="{size:g}" '
            f'text-anchor="{anchor}" fill="{colour}"{weight}>{html.escape(text)}</text>')
        self.texts.append(Text(text, rect, owner))
        return rect

    def line(self, points: list[tuple[float, float]], arrow: bool = False,
             dashed: bool = False, colour: str = GREY_DARK) -> None:
        """A polyline; ``arrow`` puts an arrowhead on its last point."""
        if arrow:
            (xa, ya), (xb, yb) = points[-2], points[-1]
            length = max(((xb - xa) ** 2 + (yb - ya) ** 2) ** 0.5, 1e-9)
            ux, uy = (xb - xa) / length, (yb - ya) / length
            tip, back, half = (xb, yb), 7.0, 3.6
            base = (xb - ux * back, yb - uy * back)
            points = [*points[:-1], base]     # the line stops where the head begins
            corners = [tip, (base[0] - uy * half, base[1] + ux * half),
                       (base[0] + uy * half, base[1] - ux * half)]
            self.elements.append('<polygon points="' + " ".join(
                f"{px:.1f},{py:.1f}" for px, py in corners) + f'" fill="{colour}"/>')
        path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
        dash = ' stroke-dasharray="5 3"' if dashed else ""
        self.elements.append(f'<polyline points="{path}" fill="none" stroke="{colour}" '
                             f'stroke-width="1.4"{dash}/>')
        self.segments += list(zip(points, points[1:], strict=False))

    def dot(self, x: float, y: float) -> None:
        self.elements.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="2.6" fill="{GREY_DARK}"/>')

    def bounds(self) -> Rect:
        rects = [t.rect for t in self.texts] + self.shapes + [
            Rect(min(a[0], b[0]), min(a[1], b[1]), max(a[0], b[0]), max(a[1], b[1]))
            for a, b in self.segments]
        return Rect(min(r.x0 for r in rects), min(r.y0 for r in rects),
                    max(r.x1 for r in rects), max(r.y1 for r in rects))


@dataclass(frozen=True)
class Diagram:
    """A drawn diagram: ``svg`` (a complete ``<svg>`` element) and ``alt``, the sentence a
    reader who cannot see it gets instead. Shown as a figure in a notebook (``_repr_html_``);
    ``myst_nb.glue`` stores it like any output; ``save`` writes a standalone ``.svg`` file.

    ``texts``, ``shapes`` and ``segments`` are the geometry of what was drawn, in the SVG's
    coordinates, for the tests.
    """

    title: str
    alt: str
    svg: str
    width: float
    height: float
    texts: tuple[Text, ...]
    shapes: tuple[Rect, ...]
    segments: tuple[tuple[tuple[float, float], tuple[float, float]], ...]

    def _repr_html_(self) -> str:
        # Never shrunk below 3/4 of its size (text stays legible on a phone): a wider
        # diagram scrolls inside its box, which the keyboard can then reach (tabindex).
        return ('<div class="cnncourse-diagram" tabindex="0" style="overflow-x:auto">'
                f"{self.svg}</div>")

    def __repr__(self) -> str:
        return f"Diagram({self.title!r}, {self.width:.0f}x{self.height:.0f} px)"

    def labels(self) -> list[str]:
        """Every text drawn, in drawing order."""
        return [t.text for t in self.texts]

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.write_text('<?xml version="1.0" encoding="UTF-8"?>\n' + self.svg + "\n",
                        encoding="utf-8")
        return path


def render(canvas: Canvas, title: str, alt: str, margin: float = 10.0) -> Diagram:
    """Wrap what ``canvas`` holds in an ``<svg>`` whose accessible name is ``alt``; its white
    background keeps dark lines and text readable on a dark page (the theme's dark mode)."""
    if len(alt.split()) < 6:
        raise ValueError(f"alt text must say what the diagram shows, got {alt!r}")
    box = canvas.bounds()
    dx, dy = margin - box.x0, margin - box.y0
    width = math.ceil(box.x1 - box.x0 + 2 * margin)
    height = math.ceil(box.y1 - box.y0 + 2 * margin)

    def moved(r: Rect) -> Rect:
        return Rect(r.x0 + dx, r.y0 + dy, r.x1 + dx, r.y1 + dy)

    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
           f'width="{width}" height="{height}" role="img" '
           f'aria-label="{html.escape(alt, quote=True)}" '
           f'style="max-width:100%;min-width:{MIN_SCALE * width:.0f}px;height:auto;'
           f'background:#FFFFFF" '
           f'font-family="{FONT_FAMILY}">'
           f"<title>{html.escape(alt)}</title>"
           f'<g transform="translate({dx:.1f},{dy:.1f})">' + "".join(canvas.elements)
           + "</g></svg>")
    return Diagram(
        title=title, alt=alt, svg=svg, width=width, height=height,
        texts=tuple(Text(t.text, moved(t.rect), t.owner) for t in canvas.texts),
        shapes=tuple(moved(r) for r in canvas.shapes),
        segments=tuple(((a[0] + dx, a[1] + dy), (b[0] + dx, b[1] + dy))
                       for a, b in canvas.segments))
