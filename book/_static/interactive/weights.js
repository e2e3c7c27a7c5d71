/* Reading the weights files the lab exports (cnncourse.interactive.export).
 *
 * A weights file is a script that puts one entry into self.cnncourseWeights (a script, not a
 * fetched binary, so the page also works when opened from disk, where fetch() is refused).
 * The entry holds the tensors as one base64 block of little-endian float32 / int32 numbers,
 * a table of their names, shapes and byte offsets, and the sha256 of the block, which
 * verify() recomputes where the browser offers crypto.subtle (https, localhost, file).
 */
(function (root) {
  'use strict';
  const ns = (root.cnncourse = root.cnncourse || {});
  const FORMAT = 'cnncourse-lenet-weights/1';

  function bytesOf(entry) {
    const text = atob(entry.data);
    const bytes = new Uint8Array(text.length);
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    if (bytes.length !== entry.bytes) {
      throw new Error(entry.model + ': ' + bytes.length + ' bytes, the table says ' + entry.bytes);
    }
    return bytes;
  }

  /** {name: typed array} from an entry; the arrays share one buffer. */
  function decode(entry) {
    if (entry.format !== FORMAT) throw new Error('unknown weights format ' + entry.format);
    const bytes = bytesOf(entry);
    const view = new DataView(bytes.buffer);
    const tensors = {};
    for (const t of entry.tensors) {
      // DataView reads little-endian whatever the machine's byte order
      const out = t.dtype === 'int32' ? new Int32Array(t.length) : new Float32Array(t.length);
      for (let i = 0; i < t.length; i++) {
        out[i] = t.dtype === 'int32'
          ? view.getInt32(t.offset + 4 * i, true)
          : view.getFloat32(t.offset + 4 * i, true);
      }
      tensors[t.name] = out;
    }
    return tensors;
  }

  /** Promise of true / false (the block's sha256 matches or not), or null where the browser
   *  has no crypto.subtle (a plain-http site): then the check is left to the build. */
  function verify(entry) {
    const subtle = root.crypto && root.crypto.subtle;
    if (!subtle) return Promise.resolve(null);
    return subtle.digest('SHA-256', bytesOf(entry)).then((digest) => {
      const hex = Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0'));
      return hex.join('') === entry.sha256;
    });
  }

  function entry(name) {
    const all = root.cnncourseWeights || {};
    if (!all[name]) throw new Error('the weights of ' + name + ' are not loaded');
    return all[name];
  }

  ns.weights = { decode, verify, entry, FORMAT };
})(typeof self !== 'undefined' ? self : this);
