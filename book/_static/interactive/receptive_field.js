/* Receptive fields of a stack of layers (chapters 1 and 5).
 *
 * The reader edits a stack (kernel, stride, dilation, padding per layer; presets for LeNet-5,
 * VGG and dilated stacks); a table lists, per layer, the output size and the receptive field's
 * size, jump and start as cnncourse.analysis.receptive_field computes them; the drawing has a
 * grid per layer, and pointing at (or moving with the arrow keys to) a unit of any layer
 * marks the input pixels connected to it, and the box the formula gives (which may reach
 * into the padding beyond the image). With dilation the connected pixels can have holes.
 */
(function (root) {
  'use strict';
  const ns = (root.cnncourse = root.cnncourse || {});
  const { h, s, uid, numberField } = ns.dom;
  const MINUS = '\u2212';
  const LIMITS = { k: [1, 11], s: [1, 4], d: [1, 4], p: [0, 5] };
  const MAX_LAYERS = 8;
  const PRESETS = {
    lenet5: { label: 'LeNet-5: C1, S2, C3, S4, C5 (32x32 input)', n: 32,
      layers: [[5, 1, 1, 0], [2, 2, 1, 0], [5, 1, 1, 0], [2, 2, 1, 0], [5, 1, 1, 0]] },
    vgg_pair: { label: 'Two 3x3 convolutions (VGG): the field of one 5x5', n: 12,
      layers: [[3, 1, 1, 1], [3, 1, 1, 1]] },
    vgg_stages: { label: 'VGG: two stages of two 3x3 convolutions and a 2x2 pool', n: 32,
      layers: [[3, 1, 1, 1], [3, 1, 1, 1], [2, 2, 1, 0], [3, 1, 1, 1], [3, 1, 1, 1], [2, 2, 1, 0]] },
    dilated: { label: 'Dilated 3x3 convolutions, d = 1, 2, 4 (no holes)', n: 24,
      layers: [[3, 1, 1, 1], [3, 1, 2, 2], [3, 1, 4, 4]] },
    gridding: { label: 'Two 3x3 convolutions with d = 2 (holes: gridding)', n: 16,
      layers: [[3, 1, 2, 2], [3, 1, 2, 2]] },
  };

  /** receptive_field in JavaScript: per layer {size, jump, start}. */
  function receptiveField(layers) {
    let size = 1, jump = 1, start = 0.5;
    return layers.map(([k, stride, dilation, pad]) => {
      const effective = dilation * (k - 1) + 1;
      size += (effective - 1) * jump;
      start += ((effective - 1) / 2 - pad) * jump;
      jump *= stride;
      return { size, jump, start };
    });
  }

  /** Spatial size after each layer (0 once the window no longer fits). */
  function sizes(n, layers) {
    const out = [n];
    for (const [k, stride, dilation, pad] of layers) {
      const last = out[out.length - 1];
      const span = last + 2 * pad - dilation * (k - 1) - 1;
      out.push(last > 0 && span >= 0 ? Math.floor(span / stride) + 1 : 0);
    }
    return out;
  }

  /** Indices at level `level` - 1 that index set `indices` of level `level` reads, inside
   *  the map (padding is a constant: nothing behind it is connected). */
  function below(indices, layer, inSize) {
    const [k, stride, dilation, pad] = layer;
    const out = new Set();
    for (const i of indices) {
      for (let t = 0; t < k; t++) {
        const at = i * stride - pad + t * dilation;
        if (at >= 0 && at < inSize) out.add(at);
      }
    }
    return out;
  }

  /** Per level (0 = input), the indices along one axis connected to unit `index` of `level`. */
  function connected(layers, levelSizes, level, index) {
    const sets = [];
    sets[level] = new Set([index]);
    for (let l = level; l >= 1; l--) sets[l - 1] = below(sets[l], layers[l - 1], levelSizes[l - 1]);
    return sets;
  }

  const fmt = (x) => (Number.isInteger(x) ? String(x) : x.toFixed(1)).replace('-', MINUS);

  function mount(el) {
    let layers = PRESETS.lenet5.layers.map((l) => l.slice());
    const selected = { level: 0, row: 0, col: 0 };
    const nField = numberField('Input size', PRESETS.lenet5.n, 1, 64, update,
      { 'data-cnn-in': 'n' });
    const presetId = uid('preset');
    const preset = h('select', { id: presetId, 'data-cnn-in': 'preset', onchange: usePreset },
      h('option', { value: '' }, 'your own stack'),
      ...Object.entries(PRESETS).map(([key, p]) => h('option', { value: key,
        selected: key === 'lenet5' }, p.label)));
    const addButton = h('button', { type: 'button', onclick: addLayer }, 'Add a layer');
    const removeButton = h('button', { type: 'button', onclick: removeLayer },
      'Remove the last layer');
    const captionId = uid('caption');
    const table = h('table', { class: 'cnn-table', 'data-cnn-out': 'table' });
    const titleId = uid('title');
    const help = h('p', { class: 'cnn-help', id: uid('help') },
      'Point at a unit of any layer, or focus a layer\u2019s grid and use the arrow keys: the ' +
      'input pixels connected to it are filled, the box is the field the formula gives ' +
      '(dashed where it reaches beyond the image). Sizes are along one axis; start is the ' +
      'centre of the first unit\u2019s field in input pixels, pixel 0 spanning 0 to 1.');
    const drawing = h('div', { class: 'cnn-rf-drawing', 'data-cnn-out': 'drawing' });
    const status = h('p', { class: 'cnn-status', 'aria-live': 'polite', 'data-cnn-out': 'unit' });

    el.classList.add('cnn-widget', 'cnn-rf');
    el.append(
      h('p', { class: 'cnn-title', id: titleId }, 'Receptive fields through a stack of layers'),
      h('div', { class: 'cnn-controls' }, nField,
        h('div', { class: 'cnn-field' }, h('label', { for: presetId }, 'Preset'), preset),
        addButton, removeButton),
      h('div', { class: 'cnn-scroll' }, table),
      drawing, status, help);

    function usePreset() {
      const p = PRESETS[preset.value];
      if (!p) return;
      layers = p.layers.map((l) => l.slice());
      nField.input.value = p.n;
      selected.level = 0;
      buildTable();
      update();
    }

    function addLayer() {
      if (layers.length >= MAX_LAYERS) return;
      layers.push([3, 1, 1, 1]);
      preset.value = '';
      buildTable();
      update();
      const inputs = table.querySelectorAll('tbody tr:last-child input');
      if (inputs.length) inputs[0].focus();
    }

    function removeLayer() {
      if (layers.length <= 1) return;
      layers.pop();
      preset.value = '';
      selected.level = Math.min(selected.level, layers.length);
      buildTable();
      update();
    }

    function buildTable() {
      // full names, and on a phone their letters (CSS picks one; the caption explains)
      const head = h('thead', null, h('tr', null,
        ...[['Layer', '#'], ['Kernel', 'k'], ['Stride', 's'], ['Dilation', 'd'],
          ['Padding', 'p'], ['Output size', 'out'], ['Field size', 'field'], ['Jump', 'jump'],
          ['Start', 'start']].map(([long, short]) => h('th', { scope: 'col' },
          h('span', { class: 'cnn-long' }, long),
          h('span', { class: 'cnn-short', 'aria-hidden': 'true' }, short)))));
      const cell = (key) => h('td', { 'data-cnn-out': key, class: 'cnn-num' });
      const input = h('tr', { 'data-cnn-layer': 0 }, h('th', { scope: 'row' },
        h('span', { class: 'cnn-long' }, 'input'),
        h('span', { class: 'cnn-short', 'aria-hidden': 'true' }, 'in')),
        h('td', null, '\u2013'), h('td', null, '\u2013'), h('td', null, '\u2013'),
        h('td', null, '\u2013'), cell('out'), cell('size'), cell('jump'), cell('start'));
      const rows = layers.map((layer, i) => h('tr', { 'data-cnn-layer': i + 1 },
        h('th', { scope: 'row' }, String(i + 1)),
        ...['k', 's', 'd', 'p'].map((key, j) => h('td', null, h('input', {
          type: 'number', min: LIMITS[key][0], max: LIMITS[key][1], step: 1, value: layer[j],
          inputmode: 'numeric', 'data-cnn-in': key, class: 'cnn-small-input',
          'aria-label': `Layer ${i + 1} ${['kernel', 'stride', 'dilation', 'padding'][j]}`,
          oninput: (event) => {
            const v = parseInt(event.target.value, 10);
            if (!Number.isFinite(v)) return;
            layer[j] = Math.min(LIMITS[key][1], Math.max(LIMITS[key][0], v));
            preset.value = '';  // no longer the preset's stack
            update();
          },
        }))),
        cell('out'), cell('size'), cell('jump'), cell('start')));
      table.replaceChildren(
        h('caption', { id: captionId }, 'Per layer: kernel k, stride s, dilation d and ' +
          'padding p (yours to edit), the output size, and the receptive field\u2019s size, ' +
          'jump and start in input pixels'),
        head, h('tbody', null, input, ...rows));
      addButton.disabled = layers.length >= MAX_LAYERS;
      removeButton.disabled = layers.length <= 1;
    }

    let view = null;
    function update() {
      const n = nField.read();
      const fields = [{ size: 1, jump: 1, start: 0.5 }, ...receptiveField(layers)];
      const levelSizes = sizes(n, layers);
      view = { n, fields, levelSizes };
      table.querySelectorAll('tbody tr').forEach((row, level) => {
        const put = (key, text) => { row.querySelector(`[data-cnn-out="${key}"]`).textContent = text; };
        put('out', levelSizes[level] > 0 ? `${levelSizes[level]}` : 'none');
        put('size', fmt(fields[level].size));
        put('jump', fmt(fields[level].jump));
        put('start', fmt(fields[level].start));
      });
      const deepest = levelSizes.findLastIndex((size) => size > 0);
      if (selected.level === 0 || selected.level > deepest) {
        // start on the middle unit of the deepest layer still 3 units wide: its field is
        // inside the image, where the last layer's single unit would light up everything
        const wide = levelSizes.findLastIndex((size, level) => level > 0 && size >= 3);
        selected.level = wide > 0 ? wide : deepest;
        selected.row = selected.col = Math.floor((levelSizes[selected.level] - 1) / 2);
      }
      selected.row = Math.min(selected.row, levelSizes[selected.level] - 1);
      selected.col = Math.min(selected.col, levelSizes[selected.level] - 1);
      draw();
    }

    function draw() {
      const { n, fields, levelSizes } = view;
      const rows = connected(layers, levelSizes, selected.level, selected.row);
      const cols = connected(layers, levelSizes, selected.level, selected.col);
      const grids = [];
      for (let level = 0; level < levelSizes.length; level++) {
        const size = levelSizes[level];
        if (size < 1) break;
        const big = level === 0;
        const cell = Math.max(2, Math.min(14, Math.floor((big ? 224 : 140) / size)));
        const margin = big ? 3 * cell + 8 : 4;
        const side = size * cell + 2 * margin;
        const svg = s('svg', {
          class: 'cnn-svg', width: side, height: side, viewBox: `0 0 ${side} ${side}`,
          'data-cnn-level': level, tabindex: level > 0 ? 0 : null,
          role: level > 0 ? 'group' : 'img',
          'aria-label': level > 0
            ? `Layer ${level}, ${size} by ${size} units: arrow keys choose a unit`
            : `Input, ${n} by ${n} pixels, with the selected unit's receptive field marked`,
        });
        const g = s('g', { 'aria-hidden': 'true' });
        for (let y = 0; y < size; y++) {
          for (let x = 0; x < size; x++) {
            const isSelected = level === selected.level && y === selected.row && x === selected.col;
            const lit = level < selected.level && rows[level].has(y) && cols[level].has(x);
            const rect = s('rect', {
              x: margin + x * cell, y: margin + y * cell, width: cell, height: cell,
              class: isSelected ? 'cnn-cell-current' : lit ? 'cnn-cell-tap' : 'cnn-cell',
              'data-cnn-lit': lit || isSelected ? 'true' : null,
            });
            if (level > 0) {
              const pick = () => choose(level, y, x);
              rect.addEventListener('pointerenter', pick);
              rect.addEventListener('pointerdown', pick);
            }
            g.append(rect);
          }
        }
        if (big) {
          // the formula's field of the selected unit, in input pixels (may leave the image)
          const f = fields[selected.level];
          const half = f.size / 2;
          const cy = f.start + selected.row * f.jump, cx = f.start + selected.col * f.jump;
          g.append(s('rect', {
            x: margin + (cx - half) * cell, y: margin + (cy - half) * cell,
            width: f.size * cell, height: f.size * cell, class: 'cnn-window',
            'data-cnn-box': [cy - half, cx - half, f.size].join(' '),
          }));
          const outer = s('rect', { x: margin, y: margin, width: size * cell, height: size * cell,
            class: 'cnn-frame' });
          g.append(outer);
        }
        svg.append(g);
        if (level > 0) {
          svg.addEventListener('keydown', (event) => {
            const moves = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1],
              ArrowRight: [0, 1] };
            const move = moves[event.key];
            if (!move) return;
            event.preventDefault();
            const row = selected.level === level ? selected.row + move[0] : 0;
            const col = selected.level === level ? selected.col + move[1] : 0;
            choose(level, row, col, true);
          });
          svg.addEventListener('focus', () => {
            if (selected.level !== level) choose(level, 0, 0, true);
          });
        }
        grids.push(h('figure', { class: 'cnn-rf-level' }, svg,
          h('figcaption', null, level === 0 ? `input ${n}\u00D7${n}` :
            `layer ${level}: ${size}\u00D7${size}`)));
      }
      const focused = document.activeElement;
      const refocus = focused && drawing.contains(focused)
        ? focused.getAttribute('data-cnn-level') : null;
      drawing.replaceChildren(...grids);
      if (refocus !== null) {
        const again = drawing.querySelector(`[data-cnn-level="${refocus}"]`);
        if (again) again.focus({ preventScroll: true });
      }
      describe(rows[0], cols[0]);
    }

    function describe(inputRows, inputCols) {
      const { fields, levelSizes } = view;
      const f = fields[selected.level];
      const cy = f.start + selected.row * f.jump, cx = f.start + selected.col * f.jump;
      const half = (f.size - 1) / 2;
      const span = (c) => `${fmt(c - 0.5 - half)} to ${fmt(c - 0.5 + half)}`;
      const count = inputRows.size * inputCols.size;
      const broken = levelSizes.indexOf(0);
      status.textContent = `Layer ${selected.level}, unit row ${selected.row}, column ` +
        `${selected.col}: a field of ${fmt(f.size)}\u00D7${fmt(f.size)} input pixels, rows ` +
        `${span(cy)} and columns ${span(cx)}; ${count} pixels of the image are connected to ` +
        'it' + (count < f.size * f.size ? ' (the rest is padding beyond the image, or holes ' +
        'left by dilation)' : '') + '.' +
        (broken > 0 ? ` Layer ${broken}'s window no longer fits: the stack is too deep for ` +
          'this input, and only the table goes on.' : '');
    }

    function choose(level, row, col, fromKeys) {
      const size = view.levelSizes[level];
      row = Math.max(0, Math.min(size - 1, row));
      col = Math.max(0, Math.min(size - 1, col));
      // redrawing replaces the cells under the pointer, which can fire pointerenter again
      const same = selected.level === level && selected.row === row && selected.col === col;
      Object.assign(selected, { level, row, col });
      if (!same) draw();
      if (fromKeys) {
        const svg = drawing.querySelector(`[data-cnn-level="${level}"]`);
        if (svg && document.activeElement !== svg) svg.focus({ preventScroll: true });
      }
    }

    buildTable();
    update();
    return {
      receptiveField,
      /** Replace the stack ([[k, s, d, p], ...]) and optionally the input size. */
      set(newLayers, n) {
        layers = newLayers.map((l) => l.slice());
        if (n !== undefined) nField.input.value = n;
        preset.value = '';
        buildTable();
        update();
      },
      choose,
    };
  }

  ns.receptiveField = { receptiveField, sizes, connected };
  ns.widgets = ns.widgets || {};
  ns.widgets['receptive-field'] = mount;
})(typeof self !== 'undefined' ? self : this);
