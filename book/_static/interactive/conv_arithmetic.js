/* Convolution arithmetic: how big is a convolution's output? (chapter 1)
 *
 * The reader sets input size n, kernel k, stride s, padding p and dilation d, and floor or
 * ceil rounding; the figure draws the padded input with the window at one output position
 * and the output grid, and writes out the formula of cnncourse.analysis.conv_output_size
 * with the numbers in. Moving over the output grid (pointer, or arrow keys once it has focus)
 * moves the window. Every position is also described in words (a live region).
 */
(function (root) {
  'use strict';
  const ns = (root.cnncourse = root.cnncourse || {});
  const { h, s, uid, numberField } = ns.dom;
  const MINUS = '\u2212';

  /** conv_output_size in JavaScript: {size} or {error}; dropped = ceil mode's last window
   *  removed because it would start in the right padding (PyTorch's rule). */
  function outputSize(n, k, stride, pad, dilation, ceil) {
    const span = n + 2 * pad - dilation * (k - 1) - 1;
    if (span < 0) return { error: 'window', span };
    if (!ceil) return { size: Math.floor(span / stride) + 1, span };
    let size = Math.ceil(span / stride) + 1;
    const dropped = (size - 1) * stride >= n + pad;
    if (dropped) size -= 1;
    return { size, span, dropped };
  }

  function formula(v, result) {
    const [open, close] = v.ceil ? ['\u2308', '\u2309'] : ['\u230A', '\u230B'];
    const lines = [
      `o = ${open}(n + 2p ${MINUS} d(k ${MINUS} 1) ${MINUS} 1) / s${close} + 1`,
      `  = ${open}(${v.n} + 2\u00D7${v.p} ${MINUS} ${v.d}\u00D7(${v.k} ${MINUS} 1) ${MINUS} 1)` +
        ` / ${v.s}${close} + 1`,
    ];
    if (result.error) {
      lines.push(`  = ${open}${String(result.span).replace('-', MINUS)} / ${v.s}${close} + 1:` +
        ' the window does not fit');
    } else {
      const raw = (v.ceil ? Math.ceil : Math.floor)(result.span / v.s) + 1;
      lines.push(`  = ${open}${result.span} / ${v.s}${close} + 1 = ${raw}`);
      if (result.dropped) {
        lines.push(`  ${MINUS} 1 = ${result.size}: window ${raw} would start at ` +
          `(${raw} ${MINUS} 1)\u00D7${v.s} = ${(raw - 1) * v.s}, in the right padding ` +
          `(\u2265 n + p = ${v.n + v.p}), so PyTorch drops it`);
      }
    }
    return lines.join('\n');
  }

  function mount(el) {
    const state = { row: 0, col: 0 };
    const fields = {
      n: numberField('Input size n', 5, 1, 32, update, { 'data-cnn-in': 'n' }),
      k: numberField('Kernel k', 3, 1, 9, update, { 'data-cnn-in': 'k' }),
      s: numberField('Stride s', 1, 1, 6, update, { 'data-cnn-in': 's' }),
      p: numberField('Padding p', 1, 0, 8, update, { 'data-cnn-in': 'p' }),
      d: numberField('Dilation d', 1, 1, 4, update, { 'data-cnn-in': 'd' }),
    };
    const roundingId = uid('rounding');
    const rounding = h('select', { id: roundingId, 'data-cnn-in': 'rounding', onchange: update },
      h('option', { value: 'floor' }, 'floor (PyTorch default)'),
      h('option', { value: 'ceil' }, 'ceil (ceil_mode=True, Caffe pooling)'));
    const formulaBox = h('pre', { class: 'cnn-formula', 'data-cnn-out': 'formula' });
    const sizeOut = h('output', { 'data-cnn-out': 'size' });
    const sizeLine = h('p', { class: 'cnn-result', 'aria-live': 'polite' },
      'Output size: ', sizeOut);
    const titleId = uid('title');
    const help = h('p', { class: 'cnn-help', id: uid('help') },
      'Move over the output grid, or focus it and use the arrow keys, to slide the window. ' +
      'Indices count from 0; rows and columns below 0 or from n on are padding.');
    const drawing = s('svg', {
      class: 'cnn-svg', tabindex: 0, role: 'group', 'aria-labelledby': titleId,
      'aria-describedby': help.id, 'data-cnn-out': 'drawing',
    });
    const status = h('p', { class: 'cnn-status', 'aria-live': 'polite',
      'data-cnn-out': 'position' });
    const previous = h('button', { type: 'button', onclick: () => step(-1) }, 'Previous position');
    const next = h('button', { type: 'button', onclick: () => step(1) }, 'Next position');

    el.classList.add('cnn-widget', 'cnn-conv');
    el.append(
      h('p', { class: 'cnn-title', id: titleId },
        'Convolution arithmetic: the padded input, the window at one position, the output'),
      h('div', { class: 'cnn-controls' }, ...Object.values(fields),
        h('div', { class: 'cnn-field' }, h('label', { for: roundingId }, 'Rounding'), rounding)),
      formulaBox, sizeLine,
      h('div', { class: 'cnn-scroll' }, drawing),
      h('p', { class: 'cnn-legend' },
        h('span', { class: 'cnn-swatch cnn-swatch-pad' }), ' padding \u00A0 ',
        h('span', { class: 'cnn-swatch cnn-swatch-tap' }), ' the window\u2019s taps \u00A0 ',
        h('span', { class: 'cnn-swatch cnn-swatch-current' }), ' the output they make'),
      h('div', { class: 'cnn-buttons' }, previous, next), status, help);

    function values() {
      const v = {};
      for (const [key, field] of Object.entries(fields)) v[key] = field.read();
      v.ceil = rounding.value === 'ceil';
      return v;
    }

    let current = null;
    function update() {
      const v = values();
      const result = outputSize(v.n, v.k, v.s, v.p, v.d, v.ceil);
      formulaBox.textContent = formula(v, result);
      if (result.error) {
        const width = v.d * (v.k - 1) + 1;
        sizeOut.textContent = 'none';
        sizeOut.setAttribute('data-cnn-error', 'true');
        status.textContent = `The window (${width} pixels wide with dilation ${v.d}) is larger ` +
          `than the padded input (${v.n + 2 * v.p} pixels): there is no output.`;
        current = { v, result };
        drawing.replaceChildren();
        drawing.setAttribute('viewBox', '0 0 10 10');
        drawing.setAttribute('width', 10);
        return;
      }
      sizeOut.removeAttribute('data-cnn-error');
      sizeOut.textContent = `${result.size} \u00D7 ${result.size}`;
      sizeOut.setAttribute('data-cnn-size', result.size);
      state.row = Math.min(state.row, result.size - 1);
      state.col = Math.min(state.col, result.size - 1);
      current = { v, result };
      draw();
    }

    function draw() {
      const { v, result } = current;
      const o = result.size;
      const padded = v.n + 2 * v.p;
      const reach = (o - 1) * v.s + v.d * (v.k - 1) + 1; // cells the windows cover, padded
      const cells = Math.max(padded, reach);
      const cell = Math.max(6, Math.min(26, Math.floor(260 / Math.max(cells, o))));
      const top = 30, gap = 48, left = 4;
      const inputWidth = cells * cell;
      const outLeft = left + inputWidth + gap;
      const width = outLeft + o * cell + 4;
      const height = top + Math.max(cells, o) * cell + 4;
      drawing.setAttribute('viewBox', `0 0 ${width} ${height}`);
      drawing.setAttribute('width', width);
      drawing.replaceChildren();
      drawing.append(
        s('text', { x: left, y: 16, class: 'cnn-svg-label' }, `input ${v.n}\u00D7${v.n}` +
          (v.p ? `, padding ${v.p}` : '')),
        s('text', { x: outLeft, y: 16, class: 'cnn-svg-label' }, `output ${o}\u00D7${o}`));
      const grid = s('g', { 'aria-hidden': 'true' });
      for (let y = 0; y < cells; y++) {
        for (let x = 0; x < cells; x++) {
          const inside = y < padded && x < padded;
          const isPad = inside && (y < v.p || x < v.p || y >= v.p + v.n || x >= v.p + v.n);
          grid.append(s('rect', {
            x: left + x * cell, y: top + y * cell, width: cell, height: cell,
            class: !inside ? 'cnn-cell-beyond' : isPad ? 'cnn-cell-pad' : 'cnn-cell',
          }));
        }
      }
      // the window: its k x k taps, d apart, from (row s, col s) of the padded input
      const y0 = state.row * v.s, x0 = state.col * v.s;
      for (let t = 0; t < v.k; t++) {
        for (let u = 0; u < v.k; u++) {
          grid.append(s('rect', {
            x: left + (x0 + u * v.d) * cell, y: top + (y0 + t * v.d) * cell,
            width: cell, height: cell, class: 'cnn-cell-tap',
          }));
        }
      }
      const span = v.d * (v.k - 1) + 1;
      grid.append(s('rect', {
        x: left + x0 * cell, y: top + y0 * cell, width: span * cell, height: span * cell,
        class: 'cnn-window',
      }));
      for (let y = 0; y < o; y++) {
        for (let x = 0; x < o; x++) {
          const rect = s('rect', {
            x: outLeft + x * cell, y: top + y * cell, width: cell, height: cell,
            class: y === state.row && x === state.col ? 'cnn-cell-current' : 'cnn-cell-out',
          });
          rect.addEventListener('pointerenter', () => select(y, x));
          rect.addEventListener('pointerdown', () => select(y, x));
          grid.append(rect);
        }
      }
      drawing.append(grid);
      describe();
    }

    function describe() {
      const { v, result } = current;
      const first = (i) => i * v.s - v.p;
      const last = (i) => first(i) + v.d * (v.k - 1);
      const onPad = (i) => {
        let count = 0;
        for (let t = 0; t < v.k; t++) {
          const at = first(i) + t * v.d;
          if (at < 0 || at >= v.n) count++;
        }
        return count;
      };
      const fmt = (x) => String(x).replace('-', MINUS);
      const rowsOut = onPad(state.row), colsOut = onPad(state.col);
      const outside = v.k * v.k - (v.k - rowsOut) * (v.k - colsOut);
      status.textContent = `Output row ${state.row}, column ${state.col} of ${result.size}` +
        `\u00D7${result.size}: the window covers input rows ${fmt(first(state.row))} to ` +
        `${fmt(last(state.row))} and columns ${fmt(first(state.col))} to ` +
        `${fmt(last(state.col))}` + (v.d > 1 ? `, every ${v.d}th pixel` : '') +
        `; ${outside} of its ${v.k * v.k} taps fall outside the input.`;
    }

    function select(row, col) {
      if (!current || current.result.error) return;
      const o = current.result.size;
      row = Math.max(0, Math.min(o - 1, row));
      col = Math.max(0, Math.min(o - 1, col));
      // redrawing replaces the cells under the pointer, which can fire pointerenter again
      if (row === state.row && col === state.col) return;
      state.row = row;
      state.col = col;
      draw();
    }

    function step(by) {
      if (!current || current.result.error) return;
      const o = current.result.size;
      const index = (state.row * o + state.col + by + o * o) % (o * o);
      select(Math.floor(index / o), index % o);
    }

    drawing.addEventListener('keydown', (event) => {
      const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
      const move = moves[event.key];
      if (!move) return;
      event.preventDefault();
      select(state.row + move[0], state.col + move[1]);
    });

    update();
    return {
      outputSize,
      /** Set any of n, k, s, p, d (numbers) and ceil (boolean), as a reader would. */
      set(settings) {
        for (const [key, value] of Object.entries(settings)) {
          if (key === 'ceil') rounding.value = value ? 'ceil' : 'floor';
          else fields[key].input.value = value;
        }
        update();
      },
      select,
    };
  }

  ns.convArithmetic = { outputSize };
  ns.widgets = ns.widgets || {};
  ns.widgets['conv-arithmetic'] = mount;
})(typeof self !== 'undefined' ? self : this);
