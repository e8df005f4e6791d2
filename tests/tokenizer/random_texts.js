// Writes COUNT seeded pseudo-random Unicode strings to DIR/rand_NNNN.txt: ASCII words,
// digits, whitespace runs and contractions mixed with code points from every plane,
// many scripts, combining marks, emoji, title-case letters and unusual whitespace.
// Also writes a few long single pieces (long_*.txt) that exercise long-piece merging.
// Usage: node random_texts.js SEED COUNT DIR
"use strict";
const fs = require("fs");
const path = require("path");
const [seedArg, countArg, dir] = process.argv.slice(2);
let state = BigInt(seedArg) ^ 0x9e3779b97f4a7c15n;
function next() {  // splitmix64
  state = (state + 0x9e3779b97f4a7c15n) & 0xffffffffffffffffn;
  let z = state;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & 0xffffffffffffffffn;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & 0xffffffffffffffffn;
  return Number((z ^ (z >> 31n)) & 0xffffffffn);
}
const pick = (a) => a[next() % a.length];
const ranges = [
  [0x20, 0x7e], [0xa0, 0x24f], [0x250, 0x2ff], [0x300, 0x36f], [0x370, 0x3ff],
  [0x400, 0x52f], [0x530, 0x58f], [0x590, 0x5ff], [0x600, 0x6ff], [0x900, 0x97f],
  [0xe00, 0xe7f], [0x10a0, 0x10ff], [0x1100, 0x11ff], [0x1e00, 0x1fff], [0x2000, 0x206f],
  [0x2070, 0x218f], [0x2460, 0x24ff], [0x3000, 0x30ff], [0x4e00, 0x9fff], [0xac00, 0xd7a3],
  [0xff00, 0xffef], [0x1d400, 0x1d7ff], [0x1f300, 0x1faff], [0x10000, 0x10ffff],
  [0xe000, 0xf8ff], [0x0, 0x1f],
];
const fragments = [
  " ", "  ", "   ", "\t", "\n", "\r\n", "\n\n", " \n ", "\u00a0", "\u3000", "\u2003", "\u0085",
  "\u180e", "\u200b", "\u2028", "'s", "'S", "'t", "'re", "'VE", "'m", "'ll", "'D", "'\u017f",
  "'x", "'", "\u01c5", "\u01c8", "123", "4567", "\u00b2", "\u2167", "\u0663\u0664", "don't",
  "HELLO", "Hello", "hello", "JSONParser", " world", "!!", "...", "//", "/", "<|endoftext|>",
  "e\u0301", "\u0301", "\ud83d\ude00", "\ud83d\udc68\u200d\ud83d\udc69\u200d\ud83d\udc67", "\u4e2d\u6587",
  "\u0928\u092e\u0938\u094d\u0924\u0947", "\u00df", "\u1e9e", "\u0130", "ab12cd", "x\r", "\r",
];
function codePoint() {
  for (;;) {
    const [lo, hi] = pick(ranges);
    const cp = lo + (next() % (hi - lo + 1));
    if (cp >= 0xd800 && cp <= 0xdfff) continue;
    return String.fromCodePoint(cp);
  }
}
fs.mkdirSync(dir, { recursive: true });
const count = Number(countArg);
for (let i = 0; i < count; i++) {
  const parts = [];
  const n = next() % 60;
  for (let j = 0; j < n; j++) {
    const r = next() % 10;
    if (r < 4) parts.push(pick(fragments));
    else if (r < 7) parts.push(codePoint());
    else {
      const len = 1 + (next() % 8);
      let w = "";
      for (let k = 0; k < len; k++) w += String.fromCharCode(pick([0x61, 0x41]) + (next() % 26));
      parts.push(w);
    }
  }
  fs.writeFileSync(path.join(dir, `rand_${String(i).padStart(4, "0")}.txt`), parts.join(""));
}

const longPieces = {
  lower: () => String.fromCharCode(0x61 + (next() % 26)),
  mixedcase: () => String.fromCharCode((next() % 2 ? 0x41 : 0x61) + (next() % 26)),
  cjk: () => String.fromCodePoint(0x4e00 + (next() % 0x800)),
  cyrillic: () => String.fromCodePoint(0x430 + (next() % 32)),
  same: () => "a",
  letters_marks: () => (next() % 4 ? String.fromCharCode(0x61 + (next() % 26)) : "\u0301"),
};
for (const [name, gen] of Object.entries(longPieces)) {
  let w = name === "mixedcase" ? "" : " ";
  for (let i = 0; i < 12000; i++) w += gen();
  fs.writeFileSync(path.join(dir, `long_${name}.txt`), w);
}
