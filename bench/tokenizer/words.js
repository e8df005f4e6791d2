// Writes one "word" of BYTES seeded pseudo-random lowercase ASCII letters (no spaces) to
// FILE: the pathological input for BPE, one pre-split piece as long as the text.
// Usage: node words.js BYTES FILE
"use strict";
const fs = require("fs");
const [bytesArg, file] = process.argv.slice(2);
const n = Number(bytesArg);
const buf = Buffer.alloc(n);
let x = 0x2545f491 >>> 0;
for (let i = 0; i < n; i++) {  // xorshift32
  x ^= x << 13; x >>>= 0;
  x ^= x >>> 17;
  x ^= x << 5; x >>>= 0;
  buf[i] = 97 + (x % 26);
}
fs.writeFileSync(file, buf);
