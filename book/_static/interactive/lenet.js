/* LeNet-5's forward pass in plain JavaScript: cnncourse.models.lenet, layer by layer.
 *
 * Two variants, as in the package:
 *   lenet5_modern  C1 5x5 conv + ReLU, S2 2x2 max pool, C3 full 6->16 conv + ReLU, S4 max pool,
 *                  C5 5x5 conv + ReLU, F6 + ReLU, linear output (logits for a softmax);
 *   lenet5         the paper's: scaled tanh 1.7159 tanh(2x/3) after every layer, S2/S4 sum each
 *                  2x2 block times a trainable coefficient plus a bias, C3 reads only the S2
 *                  maps of Table I, and the output is minus the squared distance from F6 to
 *                  each class's fixed RBF centre.
 * All arithmetic is in float64 (JavaScript numbers) on float32 weights, so the result is torch's
 * float32 forward pass to about 1e-5, and torch's float64 pass to rounding.
 *
 * A model is built from the weights file the lab exports (cnncourse.interactive.export): its
 * tensors keep the names of the PyTorch state_dict ("c1.weight", "c3.in_index", ...).
 */
(function (root) {
  'use strict';
  const ns = (root.cnncourse = root.cnncourse || {});

  const TANH_AMPLITUDE = 1.7159; // the paper's appendix A, as ScaledTanh in lenet.py
  const TANH_SLOPE = 2 / 3;

  /** Valid (unpadded) convolution, stride 1. input: channels x size x size (flat);
   *  weight: out x in x k x k; connected(o, i) says whether output map o reads input map i. */
  function conv2d(input, inChannels, size, weight, bias, outChannels, k, connected) {
    const outSize = size - k + 1;
    const out = new Float64Array(outChannels * outSize * outSize);
    for (let o = 0; o < outChannels; o++) {
      for (let y = 0; y < outSize; y++) {
        for (let x = 0; x < outSize; x++) {
          let sum = bias[o];
          for (let i = 0; i < inChannels; i++) {
            if (connected && !connected(o, i)) continue;
            const w0 = (o * inChannels + i) * k * k;
            const in0 = i * size * size;
            for (let dy = 0; dy < k; dy++) {
              const row = in0 + (y + dy) * size + x;
              const wRow = w0 + dy * k;
              for (let dx = 0; dx < k; dx++) sum += weight[wRow + dx] * input[row + dx];
            }
          }
          out[(o * outSize + y) * outSize + x] = sum;
        }
      }
    }
    return out;
  }

  /** 2x2 windows, stride 2: max pooling, or the paper's (sum x coefficient + bias) per map. */
  function pool2(input, channels, size, paper, coefficient, bias) {
    const half = size / 2;
    const out = new Float64Array(channels * half * half);
    for (let c = 0; c < channels; c++) {
      for (let y = 0; y < half; y++) {
        for (let x = 0; x < half; x++) {
          const top = (c * size + 2 * y) * size + 2 * x;
          const a = input[top], b = input[top + 1];
          const d = input[top + size], e = input[top + size + 1];
          out[(c * half + y) * half + x] = paper
            ? (a + b + d + e) * coefficient[c] + bias[c]
            : Math.max(a, b, d, e);
        }
      }
    }
    return out;
  }

  function linear(input, weight, bias, outFeatures) {
    const inFeatures = input.length;
    const out = new Float64Array(outFeatures);
    for (let o = 0; o < outFeatures; o++) {
      let sum = bias[o];
      const w0 = o * inFeatures;
      for (let i = 0; i < inFeatures; i++) sum += weight[w0 + i] * input[i];
      out[o] = sum;
    }
    return out;
  }

  function relu(values) {
    for (let i = 0; i < values.length; i++) if (values[i] < 0) values[i] = 0;
    return values;
  }

  function scaledTanh(values) {
    for (let i = 0; i < values.length; i++) {
      values[i] = TANH_AMPLITUDE * Math.tanh(TANH_SLOPE * values[i]);
    }
    return values;
  }

  /** The paper's C3 as a dense 16 x 6 x 5 x 5 weight, zero off Table I, like
   *  SparseConv2d.dense_weight(); returns the weight and the connection test. */
  function denseC3(tensors) {
    const kernels = tensors['c3.weight'], outIndex = tensors['c3.out_index'];
    const inIndex = tensors['c3.in_index'];
    const k = 5, outMaps = 16, inMaps = 6;
    const dense = new Float64Array(outMaps * inMaps * k * k);
    const mask = new Uint8Array(outMaps * inMaps);
    for (let c = 0; c < outIndex.length; c++) {
      const o = outIndex[c], i = inIndex[c];
      mask[o * inMaps + i] = 1;
      for (let t = 0; t < k * k; t++) dense[(o * inMaps + i) * k * k + t] = kernels[c * k * k + t];
    }
    return { weight: dense, connected: (o, i) => mask[o * inMaps + i] === 1, mask };
  }

  /** Softmax of the logits (the RBF scores too: the lab trained them with cross-entropy). */
  function softmax(logits) {
    const top = Math.max(...logits);
    const exps = Array.from(logits, (v) => Math.exp(v - top));
    const total = exps.reduce((a, b) => a + b, 0);
    return exps.map((v) => v / total);
  }

  /** A model from decoded tensors ({name: Float32Array | Int32Array}) and its variant. */
  function makeModel(variant, tensors) {
    if (variant !== 'lenet5' && variant !== 'lenet5_modern') {
      throw new Error('unknown LeNet-5 variant ' + variant);
    }
    const paper = variant === 'lenet5';
    const t = tensors;
    const c3 = paper ? denseC3(t) : { weight: t['c3.weight'], connected: null };
    const act = paper ? scaledTanh : relu;

    /** input: Float64Array(32 * 32), the standardised digit. */
    function forward(input) {
      if (input.length !== 32 * 32) throw new Error('LeNet-5 reads a 32x32 image');
      const c1 = act(conv2d(input, 1, 32, t['c1.weight'], t['c1.bias'], 6, 5, null));
      let s2 = pool2(c1, 6, 28, paper, t['s2.weight'], t['s2.bias']);
      if (paper) s2 = scaledTanh(s2); // the modern net does not squash after max pooling
      const c3Maps = act(conv2d(s2, 6, 14, c3.weight, t['c3.bias'], 16, 5, c3.connected));
      let s4 = pool2(c3Maps, 16, 10, paper, t['s4.weight'], t['s4.bias']);
      if (paper) s4 = scaledTanh(s4);
      const c5 = act(conv2d(s4, 16, 5, t['c5.weight'], t['c5.bias'], 120, 5, null));
      const f6 = act(linear(c5, t['f6.weight'], t['f6.bias'], 84));
      let logits;
      if (paper) {
        const centres = t['output.centres'];
        logits = new Float64Array(10);
        for (let c = 0; c < 10; c++) {
          let squared = 0;
          for (let j = 0; j < 84; j++) {
            const diff = f6[j] - centres[c * 84 + j];
            squared += diff * diff;
          }
          logits[c] = -squared;
        }
      } else {
        logits = linear(f6, t['output.weight'], t['output.bias'], 10);
      }
      return {
        logits, probabilities: softmax(logits), f6,
        maps: {
          C1: { data: c1, channels: 6, size: 28 },
          S2: { data: s2, channels: 6, size: 14 },
          C3: { data: c3Maps, channels: 16, size: 10 },
        },
      };
    }
    return { variant, forward, c3Mask: paper ? c3.mask : null };
  }

  ns.lenet = { makeModel, softmax, conv2d, pool2 };
})(typeof self !== 'undefined' ? self : this);
