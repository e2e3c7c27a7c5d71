"""A small layout engine for block diagrams that flow from top to bottom.

A diagram is a tree of items: ``Box`` (a layer, one to three lines of text), ``Merge`` (a
circled + or x), ``Wire`` (a line that passes data on unchanged: an identity shortcut),
``Series`` (items one below the other, joined by arrows) and ``Parallel`` (branches side by
side, forked from one point and merged into one node). Every item measures itself around an
anchor, the vertical line where its input enters and its output leaves, as (extent to the
left, extent to the right, height); a container places its children from those measures.
Top to bottom keeps diagrams narrow, so they stay legible on a phone.

An item's ``out`` is the label of the arrow that leaves it (a tensor shape such as
``256@56×56``); the container that draws that arrow writes it beside the line.
"""

from __future__ import annotations

from collections.abc import Sequence

from cnncourse.diagrams._svg import (
    DETAIL_SIZE,
    TITLE_SIZE,
    Canvas,
    Diagram,
    render,
    text_width,
)

PAD_X, PAD_Y = 10.0, 6.0
TITLE_LINE, DETAIL_LINE = 17.0, 15.0
ARROW_GAP = 20.0        # between two items, arrow without a label
LABEL_GAP = 32.0        # between two items, arrow with a label
LABEL_OFFSET = 7.0      # a label's distance from its line
COLUMN_GAP = 26.0       # between the columns of a Parallel
FORK = 22.0             # from a Parallel's top to its branches' tops
JOIN_LABEL = 22.0       # below the tallest branch: room for the branches' labels
JOIN_BAR = 12.0         # peers: from the bar that gathers the branches to the merge
MERGE_RADIUS = 10.0


def label_extent(label: str | None) -> float:
    return LABEL_OFFSET + text_width(label, DETAIL_SIZE) + 2.0 if label else 0.0


class Item:
    """Something with an anchor line, measured as (left, right, height)."""

    out: str | None = None
    takes_arrow = True            # an arrow into it ends with a head

    def measure(self) -> tuple[float, float, float]:
        raise NotImplementedError

    def draw(self, canvas: Canvas, x: float, y: float) -> None:
        """Draw with the anchor at ``x`` and the top at ``y``."""
        raise NotImplementedError

    def describe(self) -> str:
        """The item in words, for the diagram's alt text."""
        raise NotImplementedError


class Box(Item):
    """A rectangle with a title line and up to two detail lines, coloured by ``role``."""

    def __init__(self, title: str, *details: str, role: str = "conv",
                 out: str | None = None) -> None:
        self.lines = [title, *(d for d in details if d)]
        self.role, self.out = role, out

    def describe(self) -> str:
        details = f" ({'; '.join(self.lines[1:])})" if len(self.lines) > 1 else ""
        return self.lines[0] + details

    def _size(self) -> tuple[float, float]:
        widths = [text_width(self.lines[0], TITLE_SIZE)]
        widths += [text_width(line, DETAIL_SIZE) for line in self.lines[1:]]
        height = 2 * PAD_Y + TITLE_LINE + DETAIL_LINE * (len(self.lines) - 1)
        return max(widths) + 2 * PAD_X, height

    def measure(self) -> tuple[float, float, float]:
        w, h = self._size()
        return w / 2, w / 2, h

    def draw(self, canvas: Canvas, x: float, y: float) -> None:
        w, h = self._size()
        owner = canvas.box(x - w / 2, y, w, h, self.role)
        cy = y + PAD_Y + TITLE_LINE / 2
        canvas.text(x, cy, self.lines[0], TITLE_SIZE, owner=owner)
        cy += TITLE_LINE / 2 + DETAIL_LINE / 2
        for line in self.lines[1:]:
            canvas.text(x, cy, line, DETAIL_SIZE, owner=owner)
            cy += DETAIL_LINE


class Merge(Item):
    """A circle holding ``+`` (addition) or ``×`` (multiplication)."""

    def __init__(self, symbol: str = "+", out: str | None = None) -> None:
        self.symbol, self.out = symbol, out

    def measure(self) -> tuple[float, float, float]:
        return MERGE_RADIUS, MERGE_RADIUS, 2 * MERGE_RADIUS

    def describe(self) -> str:
        return {"+": "added", "×": "multiplied"}.get(self.symbol, self.symbol)

    def draw(self, canvas: Canvas, x: float, y: float) -> None:
        owner = canvas.circle(x, y + MERGE_RADIUS, MERGE_RADIUS)
        canvas.text(x, y + MERGE_RADIUS - 0.5, self.symbol, 15.0, owner=owner, bold=True)


class Wire(Item):
    """A line that passes its input on unchanged, with an optional label beside it."""

    takes_arrow = False

    def __init__(self, label: str | None = None, height: float = 30.0) -> None:
        self.label, self.height = label, height

    def measure(self) -> tuple[float, float, float]:
        return 0.0, label_extent(self.label), self.height

    def describe(self) -> str:
        return self.label or "unchanged"

    def draw(self, canvas: Canvas, x: float, y: float, height: float | None = None) -> None:
        height = height or self.height
        canvas.line([(x, y), (x, y + height)])
        if self.label:
            canvas.text(x + LABEL_OFFSET, y + height / 2, self.label, anchor="start")


class Series(Item):
    """Items one below the other, each joined to the next by an arrow labelled with the
    first one's ``out``."""

    def __init__(self, items: Sequence[Item]) -> None:
        if not items:
            raise ValueError("a Series needs at least one item")
        self.items = list(items)
        self.out = self.items[-1].out
        self.takes_arrow = self.items[0].takes_arrow

    def describe(self) -> str:
        return "; ".join(item.describe() for item in self.items)

    def _gap(self, i: int) -> float:
        return LABEL_GAP if self.items[i].out else ARROW_GAP

    def measure(self) -> tuple[float, float, float]:
        sizes = [item.measure() for item in self.items]
        left = max(s[0] for s in sizes)
        right = max([s[1] for s in sizes]
                    + [label_extent(item.out) for item in self.items[:-1]])
        height = sum(s[2] for s in sizes) + sum(self._gap(i) for i in range(len(sizes) - 1))
        return left, right, height

    def draw(self, canvas: Canvas, x: float, y: float) -> None:
        for i, item in enumerate(self.items):
            item.draw(canvas, x, y)
            y += item.measure()[2]
            if i == len(self.items) - 1:
                break
            gap = self._gap(i)
            canvas.line([(x, y), (x, y + gap)], arrow=self.items[i + 1].takes_arrow)
            if item.out:
                canvas.text(x + LABEL_OFFSET, y + gap / 2, item.out, anchor="start")
            y += gap


class Parallel(Item):
    """Branches side by side, from one fork into ``merge``.

    main=None: the branches are peers (Inception): the fork and the merge sit in the middle,
    joined to the branches by horizontal bars. main=0: branch 0 is the main path, drawn on the
    anchor; the one other branch (a shortcut, a gate) leaves it to the right and enters the
    merge from the side (a residual block). merge=None (with main=0): the side branch is a
    tap that ends on its own (an auxiliary classifier); the main path runs on past it.
    """

    takes_arrow = False

    def __init__(self, branches: Sequence[Item], merge: Item | None,
                 main: int | None = None) -> None:
        self.branches = list(branches)
        self.merge, self.main = merge, main
        if main is not None and (main != 0 or len(self.branches) != 2):
            raise ValueError("with a main path, give exactly two branches, the main one first")
        if merge is None and main is None:
            raise ValueError("peers need a merge; a tap (merge=None) needs main=0")
        self.out = merge.out if merge is not None else self.branches[0].out

    def describe(self) -> str:
        parts = [b.describe() for b in self.branches]
        if self.merge is None:
            return f"{parts[0]}; a side branch leaves here: [{parts[1]}]"
        if self.main is None:
            listed = " ".join(f"[branch {i}: {text}]" for i, text in enumerate(parts, 1))
            return f"{len(parts)} parallel branches {listed}; {self.merge.describe()}"
        if isinstance(self.merge, Merge) and self.merge.symbol == "×":
            gate = f"multiplied by a gate computed by [{parts[1]}]"
            return gate if isinstance(self.branches[0], Wire) else f"{parts[0]}; {gate}"
        if isinstance(self.branches[0], Wire):   # a dense layer: new maps joined to the old
            return f"{self.merge.describe()} with the output of [{parts[1]}]"
        return f"[{parts[0]}] added to a shortcut [{parts[1]}]"

    def _columns(self) -> tuple[list[float], list[tuple[float, float, float]]]:
        """Each branch's anchor (relative to the first's) and its (left, right, height),
        the right extent widened to hold the label of the arrow that leaves it."""
        sizes = []
        for i, branch in enumerate(self.branches):
            left, right, height = branch.measure()
            if self.merge is not None or i != self.main:
                right = max(right, label_extent(branch.out))
            sizes.append((left, right, height))
        anchors = [0.0]
        for (_, r, _), (l, _, _) in zip(sizes, sizes[1:], strict=False):
            anchors.append(anchors[-1] + r + COLUMN_GAP + l)
        if self.main is not None and self.merge is not None:
            # the side line must clear the merge, so its arrow into the merge has a length
            anchors[1] = max(anchors[1], self.merge.measure()[1] + COLUMN_GAP)
        return anchors, sizes

    def _centre(self, anchors: list[float]) -> float:
        return 0.0 if self.main is not None else (anchors[0] + anchors[-1]) / 2

    def measure(self) -> tuple[float, float, float]:
        anchors, sizes = self._columns()
        c = self._centre(anchors)
        left = c - (anchors[0] - sizes[0][0])
        right = anchors[-1] + sizes[-1][1] - c
        tallest = max(s[2] for s in sizes)
        if self.merge is None:
            return left, right, FORK + tallest
        ml, mr, mh = self.merge.measure()
        bar = JOIN_BAR if self.main is None else 0.0
        return max(left, ml), max(right, mr), FORK + tallest + JOIN_LABEL + bar + mh

    def draw(self, canvas: Canvas, x: float, y: float) -> None:
        anchors, sizes = self._columns()
        xs = [x - self._centre(anchors) + a for a in anchors]
        top = y + FORK
        tallest = max(s[2] for s in sizes)
        bottom = top + tallest
        # the fork
        if self.main is None:
            canvas.line([(x, y), (x, y + FORK / 2)])
            canvas.line([(xs[0], y + FORK / 2), (xs[-1], y + FORK / 2)])
            for xb, branch in zip(xs, self.branches, strict=True):
                canvas.line([(xb, y + FORK / 2), (xb, top)], arrow=branch.takes_arrow)
        else:
            canvas.line([(x, y), (x, top)], arrow=self.branches[0].takes_arrow)
            canvas.dot(x, y + 6)
            canvas.line([(x, y + 6), (xs[1], y + 6), (xs[1], top)],
                        arrow=self.branches[1].takes_arrow)
        # the branches, each continued by a line down to the join
        ends = []
        for i, (xb, branch, size) in enumerate(zip(xs, self.branches, sizes, strict=True)):
            if isinstance(branch, Wire):   # stretched to the tallest branch: one line
                branch.draw(canvas, xb, top, height=tallest)
                size = (size[0], size[1], tallest)
            else:
                branch.draw(canvas, xb, top)
            end = top + size[2]
            ends.append(end)
            if self.merge is None:
                if i == self.main and end < bottom:
                    canvas.line([(xb, end), (xb, bottom)])
                continue
            if branch.out:
                canvas.text(xb + LABEL_OFFSET, end + 10, branch.out, anchor="start")
        if self.merge is None:
            return
        mh = self.merge.measure()[2]
        merge_top = bottom + JOIN_LABEL + (JOIN_BAR if self.main is None else 0.0)
        if self.main is None:
            bar = merge_top - JOIN_BAR
            for xb, end in zip(xs, ends, strict=True):
                canvas.line([(xb, end), (xb, bar)])
            canvas.line([(xs[0], bar), (xs[-1], bar)])
            canvas.line([(x, bar), (x, merge_top)], arrow=True)
        else:
            canvas.line([(x, ends[0]), (x, merge_top)], arrow=True)
            side_end = ends[1]
            mid = merge_top + mh / 2
            edge = x + self.merge.measure()[1]
            canvas.line([(xs[1], side_end), (xs[1], mid), (edge, mid)], arrow=True)
        self.merge.draw(canvas, x, merge_top)


def draw(root: Item, title: str, alt: str) -> Diagram:
    """Lay ``root`` out from the top left and render it."""
    canvas = Canvas()
    left, _, height = root.measure()
    root.draw(canvas, left, 0.0)
    if root.out:   # a trailing arrow for the root's own output label
        canvas.line([(left, height), (left, height + LABEL_GAP)], arrow=True)
        canvas.text(left + LABEL_OFFSET, height + LABEL_GAP / 2, root.out, anchor="start")
    return render(canvas, title, alt)
