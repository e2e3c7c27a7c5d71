/* The course palette (cnncourse/palette.py): Okabe and Ito's eight colours, safe for
 * colour-blind readers, and the greys for text and frames. tests/test_interactive.py checks
 * that these are the Python module's values. Colour never carries meaning alone here: every
 * highlighted cell also has a text description, every bar its number. */
(function (root) {
  'use strict';
  const ns = (root.cnncourse = root.cnncourse || {});
  ns.palette = Object.freeze({
    black: '#000000',
    orange: '#E69F00',
    sky_blue: '#56B4E9',
    bluish_green: '#009E73',
    yellow: '#F0E442',
    blue: '#0072B2',
    vermillion: '#D55E00',
    reddish_purple: '#CC79A7',
    GREY_DARK: '#333333',
    GREY: '#767676',
    GREY_LIGHT: '#EEEEEE',
  });

})(typeof self !== 'undefined' ? self : this);
