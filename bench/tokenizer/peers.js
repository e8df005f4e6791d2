// Token-counting throughput of the JavaScript tokenizers tollgate is compared with.
// Usage: node peers.js PEER ENCODING REPEATS FILE...   (REPEATS "Ns": passes for N seconds,
// at least 3)
//   PEER: tiktoken (WASM) | js-tiktoken | gpt-tokenizer
// Prints "MBps TOKENS": bytes of all files over the best of REPEATS timed passes (after
// one untimed warm-up pass), and the total token count. Special tokens are plain text.
"use strict";
const fs = require("fs");
const [peer, encodingName, repeatsArg, ...files] = process.argv.slice(2);
const minSeconds = repeatsArg.endsWith("s") ? Number(repeatsArg.slice(0, -1)) : 0;
const repeats = minSeconds > 0 ? 3 : Number(repeatsArg);
const texts = files.map((f) => new TextDecoder("utf-8").decode(fs.readFileSync(f)));
const bytes = files.reduce((n, f) => n + fs.statSync(f).size, 0);

let count;
if (peer === "tiktoken") {
  const enc = require("tiktoken").get_encoding(encodingName);
  count = (t) => enc.encode(t, [], []).length;
} else if (peer === "js-tiktoken") {
  const enc = require("js-tiktoken").getEncoding(encodingName);
  count = (t) => enc.encode(t, [], []).length;
} else if (peer === "gpt-tokenizer") {
  const enc = require(`gpt-tokenizer/cjs/encoding/${encodingName}`);
  const opts = { disallowedSpecial: new Set() };
  count = (t) => enc.countTokens(t, opts);
} else {
  throw new Error(`unknown peer ${peer}`);
}

const pass = () => texts.reduce((n, t) => n + count(t), 0);
let tokens = repeats > 0 ? pass() : 0;  // warm-up (and JIT)
let best = Infinity;
const start = process.hrtime.bigint();
const elapsed = () => Number(process.hrtime.bigint() - start) / 1e9;
for (let r = 0; r < Math.max(repeats, 1) || elapsed() < minSeconds; r++) {
  const t0 = process.hrtime.bigint();
  tokens = pass();
  const dt = Number(process.hrtime.bigint() - t0) / 1e9;
  best = Math.min(best, dt);
}
console.log(`${(bytes / best / 1e6).toFixed(2)} ${tokens} ${best.toFixed(6)}`);
