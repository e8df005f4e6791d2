// Converts an encoder file of the npm package `tiktoken` (encoders/<name>.json, whose
// "bpe_ranks" field holds lines of "<tag> <first rank> <base64 token> <base64 token> ...")
// into the .tiktoken format: one "<base64 token> <rank>" line per token, by rank.
// Usage: node tools/tiktoken-json-to-ranks.js encoders/cl100k_base.json > cl100k_base.tiktoken
"use strict";
const fs = require("fs");
const encoder = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const lines = [];
for (const line of encoder.bpe_ranks.split("\n")) {
  if (!line) continue;
  const [, first, ...tokens] = line.split(" ");
  const base = Number.parseInt(first, 10);
  tokens.forEach((token, i) => lines.push(`${token} ${base + i}\n`));
}
process.stdout.write(lines.join(""));
