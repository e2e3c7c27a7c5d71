/* From a drawing to LeNet-5's input, in two steps.
 *
 * 1. mnistStyle: what NIST and LeCun et al. did to every MNIST digit (the MNIST page: "size
 *    normalized to fit in a 20x20 pixel box while preserving their aspect ratio ... centered in
 *    a 28x28 image by computing the center of mass of the pixels"). A drawing has to go through
 *    it, or the network sees a digit of another size in another place than it was trained on.
 *    The box is shrunk by area averaging (each new pixel the mean of the old pixels it covers),
 *    and the centre of mass is moved to the field's centre by a whole number of pixels.
 * 2. toNetworkInput: what the course's loader does, load_mnist(size=32, normalize=True): pad 2
 *    background pixels on each side, subtract the training split's mean, divide by its standard
 *    deviation.
 * cnncourse/interactive/preprocess.py is the same in numpy; the tests hold both to each other.
 */
(function (root) {
  'use strict';
  const ns = (root.cnncourse = root.cnncourse || {});
  const BOX = 20;
  const FIELD = 28;

  /** floor(x + 0.5): Python's round() would round halves to even, so neither is used. */
  const roundHalfUp = (x) => Math.floor(x + 0.5);

  /** Ink in [0, 1] from a canvas's RGBA bytes: its alpha (the strokes' coverage), so the
   *  colours the page draws with do not matter. */
  function inkFromRGBA(rgba, width, height) {
    const ink = new Float64Array(width * height);
    for (let i = 0; i < width * height; i++) ink[i] = rgba[4 * i + 3] / 255;
    return ink;
  }

  /** (to x from) matrix averaging `from` cells into `to` cells: row i is the overlap of
   *  [i a, (i+1) a) with each old cell, divided by a = from / to. */
  function areaWeights(from, to) {
    const a = from / to;
    const w = new Float64Array(to * from);
    for (let i = 0; i < to; i++) {
      const lo = i * a, hi = (i + 1) * a;
      for (let j = Math.floor(lo); j < Math.min(from, Math.ceil(hi)); j++) {
        const overlap = Math.min(hi, j + 1) - Math.max(lo, j);
        if (overlap > 0) w[i * from + j] = overlap / a;
      }
    }
    return w;
  }

  /** A drawing's ink (height x width, row-major) as an MNIST digit: 28 x 28 values in [0, 1].
   *  Returns {image, box: [top, left, height, width] of the 20-box in the field} or null
   *  when there is no ink. */
  function mnistStyle(ink, width, height) {
    let top = height, bottom = -1, left = width, right = -1;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        if (ink[y * width + x] > 0) {
          if (y < top) top = y;
          if (y > bottom) bottom = y;
          if (x < left) left = x;
          if (x > right) right = x;
        }
      }
    }
    if (bottom < 0) return null;
    const ch = bottom - top + 1, cw = right - left + 1;
    const scale = BOX / Math.max(ch, cw);
    const th = Math.max(1, roundHalfUp(ch * scale));
    const tw = Math.max(1, roundHalfUp(cw * scale));
    const wy = areaWeights(ch, th), wx = areaWeights(cw, tw);
    // rows first (th x cw), then columns (th x tw); sums in index order, as numpy's einsum
    const rows = new Float64Array(th * cw);
    for (let i = 0; i < th; i++) {
      for (let x = 0; x < cw; x++) {
        let sum = 0;
        for (let j = 0; j < ch; j++) sum += wy[i * ch + j] * ink[(top + j) * width + left + x];
        rows[i * cw + x] = sum;
      }
    }
    const box = new Float64Array(th * tw);
    let mass = 0, my = 0, mx = 0;
    for (let i = 0; i < th; i++) {
      for (let k = 0; k < tw; k++) {
        let sum = 0;
        for (let x = 0; x < cw; x++) sum += wx[k * cw + x] * rows[i * cw + x];
        box[i * tw + k] = sum;
      }
    }
    for (let i = 0; i < th; i++) {
      for (let k = 0; k < tw; k++) {
        const v = box[i * tw + k];
        mass += v;
        my += v * (i + 0.5);
        mx += v * (k + 0.5);
      }
    }
    // the centre of mass (pixel centres at i + 0.5) goes to the field's centre, 14
    const clamp = (v, hi) => Math.min(Math.max(v, 0), hi);
    const oy = clamp(roundHalfUp(FIELD / 2 - my / mass), FIELD - th);
    const ox = clamp(roundHalfUp(FIELD / 2 - mx / mass), FIELD - tw);
    const image = new Float64Array(FIELD * FIELD);
    for (let i = 0; i < th; i++) {
      for (let k = 0; k < tw; k++) image[(oy + i) * FIELD + ox + k] = box[i * tw + k];
    }
    return { image, box: [oy, ox, th, tw] };
  }

  /** The loader's step: 28 x 28 in [0, 1] -> padded and standardised, size x size.
   *  prep = {size, pad, mean, std} from the weights file. */
  function toNetworkInput(image28, prep) {
    const size = prep.size, pad = prep.pad;
    if (size !== FIELD + 2 * pad) throw new Error('size ' + size + ' is not 28 + 2 * ' + pad);
    const out = new Float64Array(size * size).fill((0 - prep.mean) / prep.std);
    for (let y = 0; y < FIELD; y++) {
      for (let x = 0; x < FIELD; x++) {
        out[(y + pad) * size + x + pad] = (image28[y * FIELD + x] - prep.mean) / prep.std;
      }
    }
    return out;
  }

  ns.preprocess = { inkFromRGBA, mnistStyle, toNetworkInput, areaWeights, BOX, FIELD };
})(typeof self !== 'undefined' ? self : this);
