// Prints tiktoken's token ids for each FILE, space-separated, one line per file (the
// format of `tollgate count --ids`). Files are read as bytes and decoded as UTF-8 with
// replacement (TextDecoder), the documented handling of invalid UTF-8.
// Usage: node oracle.js ENCODING [--allow-special] FILE...
"use strict";
const fs = require("fs");
const { get_encoding } = require("tiktoken");
const args = process.argv.slice(2);
const enc = get_encoding(args.shift());
let allowSpecial = false;
if (args[0] === "--allow-special") {
  allowSpecial = true;
  args.shift();
}
const decoder = new TextDecoder("utf-8");
const out = [];
for (const file of args) {
  const text = decoder.decode(fs.readFileSync(file));
  const ids = allowSpecial ? enc.encode(text, "all") : enc.encode(text, [], []);
  out.push(Array.from(ids).join(" "));
}
process.stdout.write(out.join("\n") + (out.length ? "\n" : ""));
enc.free();
