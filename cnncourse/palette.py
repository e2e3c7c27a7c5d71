"""The course's one colour palette: Okabe and Ito's eight colours, safe for colour-blind readers.

M. Okabe, K. Ito, "Color Universal Design (CUD): how to make figures and presentations that
are friendly to colorblind people", 2008 (https://jfly.uni-koeln.de/color/). The plots
(``cnncourse.viz``), the block diagrams (``cnncourse.diagrams``) and the chapters' own
matplotlib figures all take their colours from here, so a colour means the same thing on
every page.

``use_in_matplotlib()`` makes the palette matplotlib's default colour cycle ("C0", "C1", ...),
for a chapter's hand-made plots. Colour is never the only carrier of meaning: labels and
line styles say the same thing.
"""

from __future__ import annotations

from types import MappingProxyType

OKABE_ITO = MappingProxyType({
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "bluish_green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "reddish_purple": "#CC79A7",
})

# The order of a plot's series: the strong, distinct colours first; yellow (weak on white)
# and black (kept for text and reference lines) last.
CYCLE: tuple[str, ...] = tuple(OKABE_ITO[name] for name in (
    "blue", "orange", "bluish_green", "vermillion", "reddish_purple", "sky_blue", "yellow",
    "black"))

# Neutral greys for text, reference points and frames (not part of the eight).
GREY_DARK = "#333333"
GREY = "#767676"      # 4.5:1 against white: still readable as text
GREY_LIGHT = "#EEEEEE"


def colour(name: str) -> str:
    """The hex code of one of the eight colours, by name (``"blue"``, ``"sky_blue"``, ...)."""
    try:
        return OKABE_ITO[name]
    except KeyError:
        raise ValueError(f"unknown colour {name!r}; the palette has {list(OKABE_ITO)}") from None


def tint(hex_colour: str, amount: float) -> str:
    """``hex_colour`` mixed with white: ``amount`` 1 is the colour itself, 0 is white."""
    if not 0.0 <= amount <= 1.0:
        raise ValueError(f"amount must be in [0, 1], got {amount}")
    rgb = [int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]
    mixed = [round(255 - (255 - c) * amount) for c in rgb]
    return "#" + "".join(f"{c:02X}" for c in mixed)


def shade(hex_colour: str, amount: float) -> str:
    """``hex_colour`` mixed with black: ``amount`` 1 is the colour itself, 0 is black."""
    if not 0.0 <= amount <= 1.0:
        raise ValueError(f"amount must be in [0, 1], got {amount}")
    rgb = [int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(c * amount):02X}" for c in rgb)


def use_in_matplotlib() -> None:
    """Make the palette matplotlib's colour cycle for the rest of the session."""
    import matplotlib as mpl
    from cycler import cycler

    mpl.rcParams["axes.prop_cycle"] = cycler(color=list(CYCLE))
