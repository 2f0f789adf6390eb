// A BlurHash decoder, written for the imgedge demo (MIT licence, like the
// BlurHash format's reference implementations; https://blurha.sh describes
// the format). A hash is base 83: one character for the number of
// components, one for the largest AC value, four for the average colour
// (DC), then two for each AC component. The picture is the sum of those
// cosine components, computed in linear light and written back as sRGB.
//
//   const pixels = blurhash.decode("LJ7{8;%N?a-:.Tt6%1xskDM{WARj", 32, 24);
//   ctx.putImageData(new ImageData(pixels, 32, 24), 0, 0);
(function (global) {
  "use strict";

  const digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#$%*+,-.:;=?@[]^_{|}~";

  function base83(s) {
    let n = 0;
    for (const c of s) {
      const d = digits.indexOf(c);
      if (d < 0) throw new Error("blurhash: " + JSON.stringify(c) + " is not a base 83 digit");
      n = n * 83 + d;
    }
    return n;
  }

  function toLinear(v) {
    const c = v / 255;
    return c <= 0.04045 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
  }

  function toSRGB(v) {
    const c = Math.min(1, Math.max(0, v));
    const s = c <= 0.0031308 ? c * 12.92 : 1.055 * Math.pow(c, 1 / 2.4) - 0.055;
    return Math.round(s * 255);
  }

  // An AC value is quantised to 0..18 around 9, on a square-root scale.
  function ac(q, max) {
    const v = (q - 9) / 9;
    return Math.sign(v) * v * v * max;
  }

  // decode returns width x height RGBA pixels (a Uint8ClampedArray) for
  // hash; punch (default 1) strengthens or softens the contrast.
  function decode(hash, width, height, punch = 1) {
    if (typeof hash !== "string" || hash.length < 6) throw new Error("blurhash: too short");
    const size = base83(hash[0]);
    const nx = (size % 9) + 1;
    const ny = Math.floor(size / 9) + 1;
    if (hash.length !== 4 + 2 * nx * ny) {
      throw new Error("blurhash: " + hash.length + " characters, want " + (4 + 2 * nx * ny) + " for " + nx + "x" + ny + " components");
    }
    const max = ((base83(hash[1]) + 1) / 166) * punch;

    const colours = [];
    const dc = base83(hash.slice(2, 6));
    colours.push([toLinear(dc >> 16), toLinear((dc >> 8) & 255), toLinear(dc & 255)]);
    for (let i = 1; i < nx * ny; i++) {
      const v = base83(hash.slice(4 + 2 * i, 6 + 2 * i));
      colours.push([ac(Math.floor(v / 361), max), ac(Math.floor(v / 19) % 19, max), ac(v % 19, max)]);
    }

    const out = new Uint8ClampedArray(width * height * 4);
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        let r = 0, g = 0, b = 0;
        for (let j = 0; j < ny; j++) {
          const cy = Math.cos((Math.PI * y * j) / height);
          for (let i = 0; i < nx; i++) {
            const basis = Math.cos((Math.PI * x * i) / width) * cy;
            const c = colours[i + j * nx];
            r += c[0] * basis;
            g += c[1] * basis;
            b += c[2] * basis;
          }
        }
        const p = 4 * (x + y * width);
        out[p] = toSRGB(r);
        out[p + 1] = toSRGB(g);
        out[p + 2] = toSRGB(b);
        out[p + 3] = 255;
      }
    }
    return out;
  }

  global.blurhash = { decode };
})(window);
