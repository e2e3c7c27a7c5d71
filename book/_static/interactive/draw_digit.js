/* Draw a digit for LeNet-5 (chapter 3).
 *
 * The reader draws on a pad (mouse, pen, finger, or the keyboard: arrow keys move the pen,
 * Space lifts and lowers it) or picks a digit of the test split; the page turns the drawing
 * into an MNIST digit and into the loader's input (preprocess.js), runs the lab-trained
 * LeNet-5 (lenet.js: the modern variant, or the paper's), and shows the class probabilities
 * as bars and numbers, and the feature maps of C1, S2 and C3 as pictures and, on request, as
 * numbers. Everything updates while the reader draws; the prediction is announced to screen
 * readers when a stroke ends.
 */
(function (root) {
  'use strict';
  const ns = (root.cnncourse = root.cnncourse || {});
  const { h, uid } = ns.dom;
  const P = ns.palette;
  const PAD = 280;          // the drawing pad's pixels (the page scales it to fit)
  const STROKE = 20;        // pen width in pad pixels: about MNIST's stroke once fitted to 20
  const KEY_STEP = 10;      // pad pixels per arrow key (Shift: three times as far)
  const VARIANTS = {
    lenet5_modern: 'modern LeNet-5 (ReLU, max pooling, softmax)',
    lenet5: 'the paper\u2019s LeNet-5 (sparse C3, scaled tanh, RBF output)',
  };
  const pct = (p) => (100 * p).toFixed(1) + ' %';
  /** Two decimals with a true minus sign; no "-0.00" for a tiny negative. */
  const signed = (v) => (Math.abs(v) < 0.005 ? 0 : v).toFixed(2).replace('-', '\u2212');

  /** RGB of value v in [-1, 1]: blue below 0, white at 0, vermillion above (the palette). */
  function diverging(v) {
    const end = v < 0 ? P.blue : P.vermillion;
    const a = Math.min(1, Math.abs(v));
    return [1, 3, 5].map((i) => Math.round(255 - (255 - parseInt(end.slice(i, i + 2), 16)) * a));
  }

  function paint(canvas, values, size, scale, colour) {
    const ctx = canvas.getContext('2d');
    const image = ctx.createImageData(size, size);
    for (let i = 0; i < size * size; i++) {
      const rgb = colour(values[i] / scale);
      image.data.set([rgb[0], rgb[1], rgb[2], 255], 4 * i);
    }
    ctx.putImageData(image, 0, 0);
  }

  function mount(el) {
    const W = ns.weights;
    const entries = { lenet5_modern: W.entry('lenet5_modern'), lenet5: W.entry('lenet5') };
    const models = {};
    for (const [name, entry] of Object.entries(entries)) {
      models[name] = ns.lenet.makeModel(name, W.decode(entry));
    }
    const digits = root.cnncourseWeights.test_digits;
    const digitBytes = Uint8Array.from(atob(digits.data), (c) => c.charCodeAt(0));
    const state = { variant: 'lenet5_modern', source: 'empty', image: null, result: null,
      pen: { x: PAD / 2, y: PAD / 2, down: false }, drawing: false, last: null };

    // ---------------------------------------------------------------- the controls
    const group = uid('model');
    const radios = Object.entries(VARIANTS).map(([value, label]) => {
      const id = uid('radio');
      return h('span', { class: 'cnn-radio' },
        h('input', { type: 'radio', name: group, id, value, checked: value === state.variant,
          onchange: () => { state.variant = value; run(); announce(); } }),
        h('label', { for: id }, label));
    });
    const helpId = uid('help');
    const pad = h('canvas', {
      width: PAD, height: PAD, class: 'cnn-pad', tabindex: 0, role: 'application',
      'aria-label': 'Drawing pad for a digit', 'aria-describedby': helpId,
    });
    const cursor = h('canvas', { width: PAD, height: PAD, class: 'cnn-pad-cursor',
      'aria-hidden': 'true' });
    const clear = h('button', { type: 'button', onclick: () => { reset(); announce(); } },
      'Clear');
    const pickId = uid('pick');
    const pick = h('select', { id: pickId, onchange: () => {
      if (pick.value !== '') chooseTestDigit(parseInt(pick.value, 10));
    } }, h('option', { value: '' }, 'none'),
    ...digits.labels.map((label, i) => h('option', { value: i },
      `a ${label} (test digit ${digits.indices[i]})`)));
    const seen = h('canvas', { width: 28, height: 28, class: 'cnn-seen', role: 'img',
      'aria-label': 'What the network reads: nothing drawn yet' });
    const probs = h('table', { class: 'cnn-probs', 'data-cnn-out': 'probabilities' });
    const prediction = h('p', { class: 'cnn-prediction', 'data-cnn-out': 'prediction' });
    const live = h('p', { class: 'cnn-visually-hidden', 'aria-live': 'polite' });
    const mapsBox = h('div', { class: 'cnn-maps' });
    const numbers = h('div', { class: 'cnn-map-numbers' });
    const source = h('p', { class: 'cnn-source', 'data-cnn-out': 'source' });
    // label smoothing's target for the right class: 1 - eps + eps / 10, the most training asks
    const eps = entries.lenet5_modern.training.label_smoothing;
    const note = h('p', { class: 'cnn-probs-note' });
    function describeTraining() {
      note.textContent = `Both networks were trained with label smoothing (\u03B5 = ${eps}), ` +
        `whose target for the right class is ${pct(1 - eps + eps / 10)}, not 100 %: a ` +
        'probability near it is a confident answer.' +
        (state.variant === 'lenet5' ? ' The paper\u2019s network scores each class by minus ' +
          'the squared distance from F6 to the class\u2019s fixed code; the probabilities are ' +
          'the softmax of these scores, as in its training.' : '');
    }
    describeTraining();

    el.classList.add('cnn-widget', 'cnn-digit');
    el.append(
      h('p', { class: 'cnn-title' }, 'Draw a digit for LeNet-5'),
      h('fieldset', { class: 'cnn-models' }, h('legend', null, 'Network'), ...radios),
      h('div', { class: 'cnn-digit-row' },
        h('div', { class: 'cnn-pad-box' },
          h('div', { class: 'cnn-pad-stack' }, pad, cursor),
          h('div', { class: 'cnn-buttons' }, clear,
            h('span', { class: 'cnn-field' }, h('label', { for: pickId }, 'Or a test digit'),
              pick)),
          h('p', { class: 'cnn-help', id: helpId }, 'Draw with the mouse, a pen or a finger. ' +
            'With the keyboard: focus the pad, arrow keys move the pen (Shift: further), ' +
            'Space lowers or lifts it, Delete clears.')),
        h('figure', { class: 'cnn-seen-box' }, seen,
          h('figcaption', null, 'What the network reads: the drawing fitted into 20\u00D720 ' +
            'pixels, centred by its mass in 28\u00D728 (as MNIST was made), then padded to ' +
            '32\u00D732 and standardised (as the course\u2019s loader does)')),
        h('div', { class: 'cnn-probs-box' }, prediction, probs, note)),
      live,
      h('div', { class: 'cnn-maps-box' },
        h('p', { class: 'cnn-subtitle' }, 'Feature maps'),
        h('p', { class: 'cnn-legend' }, h('span', { class: 'cnn-swatch cnn-swatch-neg' }),
          ' negative \u00A0 ', h('span', { class: 'cnn-swatch cnn-swatch-zero' }), ' zero \u00A0 ',
          h('span', { class: 'cnn-swatch cnn-swatch-pos' }),
          ' positive; each layer on its own scale, up to its largest value (in the tables)'),
        mapsBox,
        h('details', null, h('summary', null, 'Feature maps as numbers'), numbers)),
      source);

    // ---------------------------------------------------------------- drawing
    const ink = pad.getContext('2d', { willReadFrequently: true });
    function strokeStyle() {
      ink.strokeStyle = P.black;
      ink.fillStyle = P.black;
      ink.lineWidth = STROKE;
      ink.lineCap = 'round';
      ink.lineJoin = 'round';
    }
    function dot(x, y) {
      strokeStyle();
      ink.beginPath();
      ink.arc(x, y, STROKE / 2, 0, 2 * Math.PI);
      ink.fill();
    }
    function line(a, b) {
      strokeStyle();
      ink.beginPath();
      ink.moveTo(a.x, a.y);
      ink.lineTo(b.x, b.y);
      ink.stroke();
    }
    function padPoint(event) {
      const box = pad.getBoundingClientRect();
      return { x: (event.clientX - box.left) * PAD / box.width,
        y: (event.clientY - box.top) * PAD / box.height };
    }
    pad.addEventListener('pointerdown', (event) => {
      event.preventDefault();
      pad.setPointerCapture(event.pointerId);
      pad.focus({ preventScroll: true });
      state.drawing = true;
      state.last = padPoint(event);
      dot(state.last.x, state.last.y);
      changed();
    });
    pad.addEventListener('pointermove', (event) => {
      if (!state.drawing) return;
      const events = event.getCoalescedEvents ? event.getCoalescedEvents() : [event];
      for (const e of events.length ? events : [event]) {
        const point = padPoint(e);
        line(state.last, point);
        state.last = point;
      }
      changed();
    });
    const end = () => {
      if (!state.drawing) return;
      state.drawing = false;
      announce();
    };
    pad.addEventListener('pointerup', end);
    pad.addEventListener('pointercancel', end);

    const cursorCtx = cursor.getContext('2d');
    function showCursor(visible) {
      cursorCtx.clearRect(0, 0, PAD, PAD);
      if (!visible) return;
      cursorCtx.lineWidth = 2;
      cursorCtx.strokeStyle = state.pen.down ? P.vermillion : P.blue;
      cursorCtx.beginPath();
      cursorCtx.arc(state.pen.x, state.pen.y, STROKE / 2 + 3, 0, 2 * Math.PI);
      cursorCtx.stroke();
    }
    pad.addEventListener('focus', () => showCursor(true));
    pad.addEventListener('blur', () => showCursor(false));
    pad.addEventListener('keydown', (event) => {
      const moves = { ArrowUp: [0, -1], ArrowDown: [0, 1], ArrowLeft: [-1, 0], ArrowRight: [1, 0] };
      const pen = state.pen;
      if (moves[event.key]) {
        event.preventDefault();
        const stepBy = KEY_STEP * (event.shiftKey ? 3 : 1);
        const next = {
          x: Math.min(PAD - STROKE / 2, Math.max(STROKE / 2, pen.x + moves[event.key][0] * stepBy)),
          y: Math.min(PAD - STROKE / 2, Math.max(STROKE / 2, pen.y + moves[event.key][1] * stepBy)),
        };
        if (pen.down) { line(pen, next); }
        pen.x = next.x;
        pen.y = next.y;
        if (pen.down) changed();
      } else if (event.key === ' ' || event.key === 'Enter') {
        event.preventDefault();
        pen.down = !pen.down;
        if (pen.down) { dot(pen.x, pen.y); changed(); } else announce();
        live.textContent = pen.down ? 'Pen down' : live.textContent;
      } else if (event.key === 'Delete' || event.key === 'Backspace') {
        event.preventDefault();
        reset();
        announce();
      } else {
        return;
      }
      showCursor(true);
    });

    // ---------------------------------------------------------------- the network
    let pending = false;
    function changed() {
      state.source = 'drawing';
      pick.value = '';
      if (pending) return;
      pending = true;  // at most one forward pass per frame, however fast the pointer moves
      requestAnimationFrame(() => { pending = false; fromInk(); });
    }

    function inkValues() {
      return ns.preprocess.inkFromRGBA(ink.getImageData(0, 0, PAD, PAD).data, PAD, PAD);
    }

    function fromInk() {
      const fitted = ns.preprocess.mnistStyle(inkValues(), PAD, PAD);
      state.image = fitted ? fitted.image : null;
      run();
    }

    function chooseTestDigit(i) {
      const image = new Float64Array(784);
      for (let j = 0; j < 784; j++) image[j] = digitBytes[i * 784 + j] / 255;
      // the pad shows it, so the reader can draw over it; the network reads it as stored
      ink.clearRect(0, 0, PAD, PAD);
      const cell = PAD / 28;
      for (let j = 0; j < 784; j++) {
        if (image[j] === 0) continue;
        ink.fillStyle = `rgba(0, 0, 0, ${digitBytes[i * 784 + j] / 255})`;
        ink.fillRect((j % 28) * cell, Math.floor(j / 28) * cell, cell, cell);
      }
      state.source = `test digit ${digits.indices[i]} (a ${digits.labels[i]})`;
      state.image = image;
      pick.value = String(i);
      run();
      announce();
    }

    function reset() {
      ink.clearRect(0, 0, PAD, PAD);
      state.source = 'empty';
      state.image = null;
      state.pen.down = false;
      pick.value = '';
      run();
    }

    function forward(variant, image28) {
      const input = ns.preprocess.toNetworkInput(image28, entries[variant].preprocessing);
      return Object.assign(models[variant].forward(input), { input });
    }

    function run() {
      state.result = state.image ? forward(state.variant, state.image) : null;
      render();
    }

    // ---------------------------------------------------------------- showing it
    function render() {
      const r = state.result;
      const seenCtx = seen.getContext('2d');
      paint(seen, state.image || new Float64Array(784), 28, 1, (v) => {
        const g = Math.round(255 * Math.min(1, Math.max(0, v)));
        return [g, g, g];
      });
      seenCtx.globalAlpha = 1;
      if (!r) {
        prediction.textContent = 'Draw a digit, or choose a test digit.';
        seen.setAttribute('aria-label', 'What the network reads: nothing drawn yet');
      } else {
        const top = r.probabilities.indexOf(Math.max(...r.probabilities));
        prediction.textContent = `The network reads a ${top}: ${pct(r.probabilities[top])}.`;
        prediction.setAttribute('data-cnn-class', top);
        seen.setAttribute('aria-label', `What the network reads: a 28 by 28 image of the ${
          state.source === 'drawing' ? 'drawing' : state.source}`);
      }
      renderProbabilities(r);
      renderMaps(r);
    }

    function renderProbabilities(r) {
      const p = r ? r.probabilities : new Array(10).fill(null);
      const top = r ? p.indexOf(Math.max(...p)) : -1;
      probs.replaceChildren(
        h('caption', null, 'Class probabilities'),
        h('thead', null, h('tr', null, h('th', { scope: 'col' }, 'digit'),
          h('th', { scope: 'col' }, h('span', { class: 'cnn-visually-hidden' }, 'bar')),
          h('th', { scope: 'col' }, 'probability'))),
        h('tbody', null, ...p.map((v, digit) => h('tr', { class: digit === top ? 'cnn-top' : null },
          h('th', { scope: 'row' }, String(digit)),
          h('td', { class: 'cnn-bar-cell', 'aria-hidden': 'true' },
            h('span', { class: 'cnn-bar', style: `width: ${v === null ? 0 : 100 * v}%` })),
          h('td', { class: 'cnn-num', 'data-cnn-p': v === null ? '' : v },
            v === null ? '\u2013' : pct(v) + (digit === top ? ' (top)' : ''))))));
    }

    function renderMaps(r) {
      const model = models[state.variant];
      mapsBox.replaceChildren();
      numbers.replaceChildren();
      const layers = [['C1', 6, 28], ['S2', 6, 14], ['C3', 16, 10]];
      for (const [name, channels, size] of layers) {
        const m = r ? r.maps[name] : { data: new Float64Array(channels * size * size) };
        let scale = 0;
        for (const v of m.data) scale = Math.max(scale, Math.abs(v));
        const row = h('div', { class: `cnn-map-row cnn-map-row-${channels}` });
        const tbody = h('tbody');
        for (let c = 0; c < channels; c++) {
          const values = m.data.subarray(c * size * size, (c + 1) * size * size);
          const canvas = h('canvas', { width: size, height: size, class: 'cnn-map',
            role: 'img', 'aria-label': `${name} map ${c}` });
          paint(canvas, values, size, scale || 1, diverging);
          row.append(canvas);
          let lo = Infinity, hi = -Infinity, sum = 0;
          for (const v of values) { lo = Math.min(lo, v); hi = Math.max(hi, v); sum += v; }
          const reads = name !== 'C3' ? null : model.c3Mask
            ? Array.from({ length: 6 }, (_, i) => i).filter((i) => model.c3Mask[c * 6 + i]).join(', ')
            : 'all six';
          tbody.append(h('tr', null, h('th', { scope: 'row' }, String(c)),
            ...[lo, sum / values.length, hi].map((v) => h('td', { class: 'cnn-num' },
              r ? signed(v) : '\u2013')),
            reads === null ? null : h('td', null, reads)));
        }
        mapsBox.append(h('div', { class: 'cnn-map-layer' },
          h('p', { class: 'cnn-map-name' }, `${name}: ${channels} maps of ${size}\u00D7${size}` +
            (r ? `, largest |value| ${scale.toFixed(2)}` : '')), row));
        numbers.append(h('table', { class: 'cnn-table' },
          h('caption', null, `${name}: each map\u2019s smallest, mean and largest value`),
          h('thead', null, h('tr', null, ...['map', 'min', 'mean', 'max',
            ...(name === 'C3' ? ['reads S2 maps'] : [])].map((t) => h('th', { scope: 'col' }, t)))),
          tbody));
      }
    }

    function announce() {
      const r = state.result;
      if (!r) { live.textContent = 'Nothing drawn.'; return; }
      const order = r.probabilities.map((p, d) => [p, d]).sort((a, b) => b[0] - a[0]);
      live.textContent = `The ${state.variant === 'lenet5' ? 'paper\u2019s' : 'modern'} network ` +
        `reads a ${order[0][1]} (${pct(order[0][0])}), then a ${order[1][1]} ` +
        `(${pct(order[1][0])}).`;
    }

    function describeSource(verified) {
      const e = entries[state.variant];
      const seeds = Object.entries(e.test_accuracy_per_seed)
        .map(([seed, acc]) => `${pct(acc)} (seed ${seed})`).join(', ');
      const check = verified === true ? 'checksum verified'
        : verified === null ? 'checksum not checked by this browser' : 'CHECKSUM MISMATCH';
      source.textContent = `Weights trained by the course lab (experiment ${e.experiment}, ` +
        `seed ${e.seed}, fixed before the run); held-out accuracy on the ` +
        `${e.test_digits.toLocaleString('en')} test digits: ${seeds}; ${check}.`;
      source.setAttribute('data-cnn-verified', String(verified));
    }

    Promise.all(Object.values(entries).map(W.verify)).then((checks) => {
      const verified = checks.includes(false) ? false : checks.includes(null) ? null : true;
      state.verified = verified;
      describeSource(verified);
      if (verified === false) {
        el.replaceChildren(h('p', { class: 'cnn-error' }, 'The weights files are damaged ' +
          '(their sha256 is not the one they were exported with): rebuild the book.'));
      }
    });
    for (const radio of el.querySelectorAll('input[type=radio]')) {
      radio.addEventListener('change', () => { describeSource(state.verified); describeTraining(); });
    }

    run();
    return {
      models, forward, chooseTestDigit, reset,
      setModel(variant) {
        const radio = el.querySelector(`input[value="${variant}"]`);
        radio.checked = true;
        radio.dispatchEvent(new Event('change'));
      },
      /** What the page holds now: the pad's ink, the 28x28 digit, the result. */
      state() {
        const r = state.result;
        return { variant: state.variant, source: state.source, ink: Array.from(inkValues()),
          image: state.image && Array.from(state.image),
          logits: r && Array.from(r.logits), probabilities: r && r.probabilities,
          prediction: r ? r.probabilities.indexOf(Math.max(...r.probabilities)) : null };
      },
    };
  }

  ns.widgets = ns.widgets || {};
  ns.widgets['draw-digit'] = mount;
})(typeof self !== 'undefined' ? self : this);
