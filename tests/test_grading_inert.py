"""Feedback pages that run nothing (``cnncourse.grading.inert``): no script, no event
attribute, no script URL, no embedding or submitting element survives, the page carries a
policy that forbids scripts, and TeX becomes MathML outside code."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from cnncourse.grading.inert import CSP, CSP_META, inert_page, render_math, scrub


class Active(HTMLParser):
    """What a browser would run or load, as an HTML parser reads the page."""

    def __init__(self) -> None:
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in ("script", "iframe", "object", "embed", "form", "base", "frame", "frameset",
                   "applet"):
            self.found.append(f"<{tag}>")
        for key, value in attrs:
            url = re.sub(r"[\x00-\x20]", "", value or "").lower()
            if key.startswith("on") or url.startswith(("javascript:", "vbscript:",
                                                       "data:text/html")):
                self.found.append(f"<{tag} {key}={value!r}>")
            if tag == "meta" and key == "http-equiv" and (value or "").lower() != \
                    "content-security-policy":
                self.found.append(f"<meta http-equiv={value!r}>")

    handle_startendtag = handle_starttag


def active(page: str) -> list[str]:
    parser = Active()
    parser.feed(page)
    parser.close()
    return parser.found


ATTACKS = [
    "<script>alert(1)</script>",
    "<SCRIPT SRC=https://evil.example/x.js></SCRIPT>",
    "<script src=x />",
    "<p>before<script>alert('never closed')",
    "<script\n>alert(1)</script\n>",
    "<svg><script>alert(1)</script></svg>",
    "<img src=x onerror=alert(1)>",
    "<img src=x ONERROR='alert(1)'>",
    "<body onload=\"alert(1)\">",
    "<div/onclick=alert(1)>x</div>",
    "<img src=x onerror=alert(1)//>",
    "<x onload\n=1>",
    "<svg><animate onbegin=alert(1) attributeName=x dur=1s>",
    "<a href=\"javascript:alert(1)\">x</a>",
    "<a href=' JaVaScRiPt:alert(1)'>x</a>",
    "<a href=\"&#106;avascript:alert(1)\">x</a>",
    "<a href=\"&#x6A;avascript:alert(1)\">x</a>",
    "<a href=\"java\tscript:alert(1)\">x</a>",
    "<a href=\"java&#9;script:alert(1)\">x</a>",
    "<a href=vbscript:msgbox(1)>x</a>",
    "<a href=\"data:text/html;base64,PHNjcmlwdD4=\">x</a>",
    "<svg><a xlink:href=\"javascript:alert(1)\">x</a></svg>",
    "<button formaction=\"javascript:alert(1)\">x</button>",
    "<iframe src=\"https://evil.example\"></iframe>",
    "<iframe srcdoc=\"&lt;script&gt;alert(1)&lt;/script&gt;\"></iframe>",
    "<object data=\"x.swf\"></object>",
    "<embed src=\"x.swf\">",
    "<form action=\"https://evil.example\"><input name=q></form>",
    "<base href=\"https://evil.example/\">",
    "<frameset><frame src=x></frameset>",
    "<applet code=x></applet>",
    "<meta http-equiv=\"refresh\" content=\"0;url=javascript:alert(1)\">",
    "x<p title=\"a<b>text\" onclick=\"alert(1)\">y</p>",
    "<p title=\"a<b>text\" onclick=\"alert(1)\">y</p>",
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_nothing_active_survives(attack):
    assert active(attack), "the attack must be active to begin with"
    for page in (f"<html><head><title>t</title></head><body>{attack}</body></html>", attack):
        made = inert_page(page)
        assert active(made) == [], made
        assert "<script" not in made.lower()


def test_the_page_carries_a_policy_that_forbids_scripts():
    page = inert_page("<html><head><meta charset=\"utf-8\"><title>t</title></head>"
                      "<body><p>hello</p></body></html>")
    assert page.count(CSP_META) == 1
    assert page.startswith("<html><head>" + CSP_META)  # first in the head, before anything
    assert "default-src 'none'" in CSP and "script-src" not in CSP
    assert "base-uri 'none'" in CSP and "form-action 'none'" in CSP
    assert inert_page("<p>a fragment</p>").startswith(CSP_META)


def test_harmless_markup_is_kept():
    page = ("<div class=\"cell\" id=\"c1\"><a href=\"https://nbgrader.readthedocs.io\">docs</a>"
            "<img alt=\"plot\" src=\"data:image/png;base64,iVBORw0KGgo=\"><b>bold</b> "
            "a &lt; b and a < b<br/><style>.x > .y { color: red; }</style></div>")
    assert scrub(page) == page


@pytest.mark.parametrize(("tex", "block"), [
    ("$x^2$", False), ("$$\\sum_i x_i$$", True), ("\\(a + b\\)", False),
    ("\\[\\frac{1}{2}\\]", True),
])
def test_tex_becomes_mathml(tex, block):
    page = inert_page(f"<p>the value {tex} here</p>")
    assert "<math" in page and tex not in page
    assert f'display="{"block" if block else "inline"}"' in page
    assert active(page) == []


@pytest.mark.parametrize("text", [
    "<pre>cost = $x$ and $$y$$</pre>",
    "<code>$x$</code>",
    "<pre><code>print('$5 and $6')</code></pre>",
    "<p>it costs $5 and $6 is the other price</p>",
    "<p>between $ 5 and 6 $ with spaces</p>",
    "<p>a\\$x\\$ escaped</p>",
    "<textarea>$x$</textarea>",
])
def test_code_and_prose_dollars_stay_text(text):
    assert render_math(text) == text


def test_tex_that_cannot_be_read_stays_as_written():
    assert render_math("<p>$\\frac{$</p>") == "<p>$\\frac{$</p>"


def test_maths_after_code_is_rendered_again():
    page = render_math("<pre>$a$</pre><p>$b$</p>")
    assert page.startswith("<pre>$a$</pre><p><math") and "$b$" not in page
