"""Feedback pages that run nothing: no scripts, a policy that forbids them, maths as MathML.

A feedback page is opened by the instructor (on the machine that holds every grade) and
sent to the student, often on its own, by mail or through the course's LMS. It must not
run anything a submission put in it, and it must read well offline. So
:func:`inert_page`:

- removes every ``<script>`` (nbconvert's MathJax loader, which fetched MathJax from a CDN,
  included), every element that embeds or submits (``iframe``, ``object``, ``embed``,
  ``form``, ``base``), every ``on...`` event attribute and every ``javascript:`` link;
- adds a Content-Security-Policy that allows no script at all, only inline styles and
  ``data:`` images and fonts, so even markup that slipped through cannot act;
- renders the Markdown's TeX (``$...$``, ``$$...$$``, ``\\(...\\)``, ``\\[...\\]``) as MathML
  with ``latex2mathml``, which every current browser draws without a script.

The outputs themselves were reduced to text and checked images before they got here
(``probe.runner.inert``, ``replay.safe_outputs``), and nbgrader sanitizes a student's
Markdown (``HTMLExporter.sanitize_html``).
"""

from __future__ import annotations

import html
import re

CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
       "base-uri 'none'; form-action 'none'")
CSP_META = f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
SCRIPT = re.compile(r"<script\b[^>]*>.*?</script\s*>|<script\b[^>]*/>", re.I | re.S)
_TAG = re.compile(r"(<[a-zA-Z/!?][^<>]*>)")
_TAG_START = re.compile(r"<(?=[a-zA-Z/!?])")
_VERBATIM = ("pre", "code", "style", "textarea", "math", "title")
_DROPPED_ELEMENTS = ("iframe", "object", "embed", "form", "base", "frame", "frameset", "applet",
                     "script")  # a <script> left without its end tag
_ATTRIBUTE = re.compile(r"""([^\s=/>"']+)(\s*=\s*("[^"]*"|'[^']*'|[^\s>"']+))?""")
_URL_ATTRIBUTES = ("href", "src", "action", "formaction", "xlink:href", "srcset", "poster",
                   "data", "background", "lowsrc", "dynsrc")
_BAD_URL = re.compile(r"^\s*(javascript|vbscript|data:text/html)", re.I)
_MATH = re.compile(r"\$\$(.+?)\$\$|\\\[(.+?)\\\]|\\\((.+?)\\\)"  # $$..$$ \[..\] \(..\)
                   r"|(?<![\\$\w])\$(?=\S)(.+?)(?<=\S)\$(?!\w)", re.S)  # $..$


def _mathml(tex: str, block: bool) -> str:
    from latex2mathml.converter import convert

    try:
        return convert(html.unescape(tex).strip(), display="block" if block else "inline")
    except Exception:  # noqa: BLE001 - TeX it cannot read stays as it was written
        return None


def _render_math(text: str) -> str:
    def replace(match: re.Match) -> str:
        block_tex = match.group(1) or match.group(2)
        tex = block_tex or match.group(3) or match.group(4)
        rendered = _mathml(tex, block=block_tex is not None)
        return rendered if rendered is not None else match.group(0)

    return _MATH.sub(replace, text)


def render_math(page: str) -> str:
    """TeX in the page's text (not in ``<pre>``, ``<code>`` or styles) as MathML."""
    parts = _TAG.split(page)
    inside: list[str] = []
    for i, part in enumerate(parts):
        if part.startswith("<"):
            name = re.match(r"</?\s*([a-zA-Z0-9]+)", part)
            if name and name.group(1).lower() in _VERBATIM and not part.endswith("/>"):
                tag = name.group(1).lower()
                if part.startswith("</"):
                    if tag in inside:
                        inside.remove(tag)
                else:
                    inside.append(tag)
        elif not inside and ("$" in part or "\\(" in part or "\\[" in part):
            parts[i] = _render_math(part)
    return "".join(parts)


def scrub_tag(tag: str) -> str:
    """One tag without event attributes and script URLs; '' for an element that embeds."""
    match = re.match(r"<\s*(/?)\s*([a-zA-Z][a-zA-Z0-9:-]*)(.*?)(/?)\s*>$", tag, re.S)
    if match is None:
        return tag if tag.startswith("<!") or tag.startswith("<?") else html.escape(tag)
    closing, name, rest, selfclosing = match.groups()
    if name.lower() in _DROPPED_ELEMENTS:
        return ""
    kept = []
    for attribute in _ATTRIBUTE.finditer(rest):
        key, value = attribute.group(1).lower(), attribute.group(3) or ""
        if key.startswith("on") or (name.lower() == "meta" and key == "http-equiv"):
            continue
        url = re.sub(r"[\x00-\x20]", "", html.unescape(value.strip("\"'")))  # as browsers
        if key in _URL_ATTRIBUTES and _BAD_URL.match(url):  # read it: java\tscript: too
            continue
        kept.append(attribute.group(0))
    return f"<{closing}{name}{' ' if kept else ''}{' '.join(kept)}{selfclosing}>"


def scrub(page: str) -> str:
    """Every tag of ``page`` scrubbed (text and comments stay as they are). In the text, a
    ``<`` that a browser would read as the start of a tag (``x<p title="a<b>..."``, which is
    no tag here) is escaped, so the browser sees tags exactly where they were scrubbed."""
    return "".join(scrub_tag(part) if i % 2 else _TAG_START.sub("&lt;", part)
                   for i, part in enumerate(_TAG.split(page)))


def inert_page(page: str) -> str:
    """``page`` without scripts, with a no-script policy and MathML maths."""
    page = scrub(SCRIPT.sub("", page))
    page = render_math(page)
    head = re.search(r"<head[^>]*>", page, re.I)
    if head is None:
        return CSP_META + page
    return page[:head.end()] + CSP_META + page[head.end():]
