/* One script tag per page: finds the interactive figures (elements with data-cnn-widget),
 * loads the scripts each needs once, from the folder this file is in, and mounts them.
 *
 *   <div class="cnn-widget" data-cnn-widget="conv-arithmetic">
 *     <noscript>... a static figure ...</noscript>
 *   </div>
 *   <script src="../_static/interactive/loader.js" defer></script>
 *
 * Plain script elements, not fetch() or modules, so the book also works opened from disk.
 * A page may include this file more than once (one block per figure): later copies only
 * mount figures not mounted yet.
 */
(function (root) {
  'use strict';
  const ns = (root.cnncourse = root.cnncourse || {});
  const here = document.currentScript ? document.currentScript.src.replace(/[^/]*$/, '') : '';
  const base = ns.base || (ns.base = here);
  const COMMON = ['palette.js', 'dom.js'];
  const NEEDS = {
    'conv-arithmetic': [...COMMON, 'conv_arithmetic.js'],
    'receptive-field': [...COMMON, 'receptive_field.js'],
    'draw-digit': [...COMMON, 'lenet.js', 'preprocess.js', 'weights.js',
      'weights/lenet5_modern.js', 'weights/lenet5.js', 'weights/test_digits.js',
      'draw_digit.js'],
  };
  const loading = (ns.loading = ns.loading || {});
  ns.widgets = ns.widgets || {};

  function load(file) {
    if (!loading[file]) {
      loading[file] = new Promise((resolve, reject) => {
        const script = document.createElement('script');
        script.src = base + file;
        script.async = false;
        script.onload = resolve;
        script.onerror = () => reject(new Error('could not load ' + base + file));
        document.head.append(script);
      });
    }
    return loading[file];
  }

  function stylesheet() {
    if (document.querySelector('link[data-cnn-style]')) return;
    const link = document.createElement('link');
    link.rel = 'stylesheet';
    link.href = base + 'interactive.css';
    link.setAttribute('data-cnn-style', '');
    document.head.append(link);
  }

  async function mount(el) {
    const name = el.getAttribute('data-cnn-widget');
    if (!NEEDS[name]) throw new Error('unknown interactive figure ' + name);
    el.setAttribute('data-cnn-state', 'loading');
    for (const file of NEEDS[name]) await load(file); // in order: later files use earlier ones
    el.cnnWidget = ns.widgets[name](el);
    el.setAttribute('data-cnn-state', 'ready');
  }

  function start() {
    stylesheet();
    for (const el of document.querySelectorAll('[data-cnn-widget]:not([data-cnn-state])')) {
      mount(el).catch((error) => {
        el.setAttribute('data-cnn-state', 'failed');
        el.append(Object.assign(document.createElement('p'), {
          className: 'cnn-error', textContent: 'This interactive figure could not start: ' +
            error.message,
        }));
      });
    }
  }

  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})(typeof self !== 'undefined' ? self : this);
