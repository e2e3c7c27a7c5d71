/* Small DOM helpers the widgets share: building elements (HTML and SVG), unique ids,
 * and reading whole numbers from inputs. */
(function (root) {
  'use strict';
  const ns = (root.cnncourse = root.cnncourse || {});
  const SVG = 'http://www.w3.org/2000/svg';
  let counter = 0;

  /** h('div', {class: 'x', onclick: f}, child, 'text', ...): an element. Attributes whose
   *  value is null or false are left out; on* attributes become listeners. */
  function build(namespace, tag, attrs, children) {
    const el = namespace ? document.createElementNS(namespace, tag) : document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (value === null || value === undefined || value === false) continue;
      if (key.startsWith('on') && typeof value === 'function') {
        el.addEventListener(key.slice(2), value);
      } else {
        el.setAttribute(key, value === true ? '' : String(value));
      }
    }
    for (const child of children.flat()) {
      if (child === null || child === undefined || child === false) continue;
      el.append(child instanceof Node ? child : document.createTextNode(String(child)));
    }
    return el;
  }

  const h = (tag, attrs, ...children) => build(null, tag, attrs, children);
  const s = (tag, attrs, ...children) => build(SVG, tag, attrs, children);
  const uid = (prefix) => 'cnn-' + prefix + '-' + ++counter;

  /** A labelled number input; read() gives its value clamped to [min, max]. */
  function numberField(label, value, min, max, onchange, attrs) {
    const id = uid('field');
    const input = h('input', Object.assign({
      id, type: 'number', value, min, max, step: 1, inputmode: 'numeric', oninput: onchange,
    }, attrs || {}));
    const field = h('div', { class: 'cnn-field' }, h('label', { for: id }, label), input);
    field.read = function () {
      const v = parseInt(input.value, 10);
      return Number.isFinite(v) ? Math.min(max, Math.max(min, v)) : value;
    };
    field.input = input;
    return field;
  }

  ns.dom = { h, s, uid, numberField };
})(typeof self !== 'undefined' ? self : this);
