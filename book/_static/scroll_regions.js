/* Wide tables, code blocks, cell outputs and diagrams scroll inside the column rather than
   widening the page (cnncourse.css). A box that scrolls must be reachable from the keyboard
   (WCAG 2.1.1; axe-core: scrollable-region-focusable) and should say what it holds when it
   gets the focus, so each box that overflows at the current width becomes a named region
   with a tab stop; one that no longer overflows (after a resize) loses both again.
   Loaded on every page (html_js_files in _config.yml). */
(function () {
  "use strict";

  const SELECTOR = [
    "pre",                              // code blocks and text outputs
    ".pst-scrollable-table-container",  // the theme's box around every table
    ".cell_output > .output",           // HTML outputs of code cells
    ".cell_output table",               // a table that scrolls by itself
    ".cnncourse-diagram",               // diagrams drawn by cnncourse.diagrams
    "mjx-container",                    // formulas typeset by MathJax
  ].join(", ");
  const MARK = "data-scroll-region";    // set on the boxes this script changed

  function words(text, limit) {
    const flat = (text || "").replace(/\s+/g, " ").trim();
    return flat.length > limit ? flat.slice(0, limit - 1).trimEnd() + "\u2026" : flat;
  }

  function describe(box) {
    const table = box.matches("table") ? box : box.querySelector("table");
    if (table) {
      const caption = table.querySelector("caption");
      if (caption) return "Table: " + words(caption.textContent, 80);
      const heads = Array.from(table.querySelectorAll("thead th"))
        .map((th) => words(th.textContent, 30)).filter(Boolean);
      return heads.length ? "Table with columns " + words(heads.join(", "), 100) : "Table";
    }
    if (box.matches(".cnncourse-diagram")) {
      const svg = box.querySelector("svg[aria-label]");
      return "Diagram" + (svg ? ": " + words(svg.getAttribute("aria-label"), 80) : "");
    }
    if (box.matches("mjx-container")) return "Formula";
    if (box.matches("pre")) {
      const first = (box.textContent || "").split("\n").find((line) => line.trim());
      return (box.closest(".cell_output") ? "Output" : "Code") +
        (first ? ": " + words(first, 60) : "");
    }
    return "Cell output";
  }

  function update() {
    document.querySelectorAll(SELECTOR).forEach((box) => {
      const style = getComputedStyle(box);
      const scrollable = (value) => value === "auto" || value === "scroll";
      const scrolls =
        (scrollable(style.overflowX) && box.scrollWidth > box.clientWidth + 1) ||
        (scrollable(style.overflowY) && box.scrollHeight > box.clientHeight + 1);
      if (scrolls) {
        box.tabIndex = 0;
        if (!box.hasAttribute("aria-label") || box.hasAttribute(MARK)) {
          box.setAttribute("role", "region");
          box.setAttribute("aria-label", describe(box) + " (scrolls)");
          box.setAttribute(MARK, "");
        }
      } else if (box.hasAttribute(MARK)) {
        box.removeAttribute("role");
        box.removeAttribute("aria-label");
        box.removeAttribute(MARK);
        box.tabIndex = -1;
      }
    });
  }

  let pending = null;
  function later() {
    clearTimeout(pending);
    pending = setTimeout(update, 200);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", update);
  } else {
    update();
  }
  window.addEventListener("load", update);   // images and fonts change widths
  window.addEventListener("resize", later);
  // MathJax typesets after the load event, and the theme adds boxes of its own
  const main = document.getElementById("main-content") || document.body;
  new MutationObserver(later).observe(main, {subtree: true, childList: true});
})();
