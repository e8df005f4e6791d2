#!/usr/bin/env bash
# Regenerates data/prices.json and data/PRICES-SOURCE.md from a pinned release of the
# npm package @pydantic/genai-prices (MIT), the maintained price catalog behind
# pydantic's genai-prices project.
#
# Usage: tools/fetch-prices.sh [--check]
#   --check  regenerate into a temporary directory and fail when data/ differs.
#
# Needs bash, node (>= 20) and npm; the only network access is `npm pack` against the
# npm registry. The tarball must match the pinned checksums below, or nothing is written.
#
# To move to a newer release: set PKG_VERSION, run `npm view @pydantic/genai-prices@<v>
# dist.integrity` for PKG_SHA512, run the script once with PKG_SHA256="" to print the
# sha256, pin it, and review the diff of data/prices.json.
set -euo pipefail

PKG_NAME="@pydantic/genai-prices"
PKG_VERSION="0.1.8"
# npm's integrity string (base64 sha512) and the hex sha256 of the same tarball.
PKG_SHA512="sha512-h7CYw6qTyflG2zUndO8tXyL8Xopf+tX9JZu13h0ZFgeyYj+J2gm1edR4+R+mbQ2vPdkFjtTmmmu1cYQPM5/KTA=="
PKG_SHA256="8c9ba41e46719abc54a0ae4756ba5f2b5a768b8117fb29f40c5ca7ed3146eb5b"
# Conditional prices (start_date constraints) are resolved as of this date, so the
# output depends only on this file. Later changes are kept in "scheduled".
AS_OF="2026-09-23"

# Tier rule (premium | standard | economy), on the base output price in USD per million
# tokens (the input price when a model has no output price, e.g. embeddings):
#   premium  >= PREMIUM_MIN_OUTPUT    (gpt-4o, Claude Sonnet and Opus, Gemini Pro)
#   standard >= STANDARD_MIN_OUTPUT   (Claude Haiku 3.5+, Gemini Flash, o4-mini)
#   economy  below                    (gpt-4o-mini, Gemini Flash-Lite, embeddings)
PREMIUM_MIN_OUTPUT="10"
STANDARD_MIN_OUTPUT="2"

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
check=0
[ "${1:-}" = "--check" ] && check=1

command -v node >/dev/null || { echo "fetch-prices: node is required" >&2; exit 1; }
command -v npm >/dev/null || { echo "fetch-prices: npm is required" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm pack --silent "${PKG_NAME}@${PKG_VERSION}" >/dev/null)
tarball="$(ls "$work"/*.tgz)"

read -r got512 got256 < <(node -e '
  const fs = require("fs"), crypto = require("crypto");
  const data = fs.readFileSync(process.argv[1]);
  const h512 = "sha512-" + crypto.createHash("sha512").update(data).digest("base64");
  const h256 = crypto.createHash("sha256").update(data).digest("hex");
  console.log(h512, h256);' "$tarball")
if [ "$got512" != "$PKG_SHA512" ]; then
  echo "fetch-prices: sha512 mismatch for ${PKG_NAME}@${PKG_VERSION}" >&2
  echo "  expected $PKG_SHA512" >&2
  echo "  got      $got512" >&2
  exit 1
fi
if [ -z "$PKG_SHA256" ]; then
  echo "fetch-prices: PKG_SHA256 is not pinned; the tarball's sha256 is $got256" >&2
  exit 1
fi
if [ "$got256" != "$PKG_SHA256" ]; then
  echo "fetch-prices: sha256 mismatch: expected $PKG_SHA256, got $got256" >&2
  exit 1
fi

mkdir -p "$work/pkg"
tar -xzf "$tarball" -C "$work/pkg"
license="$(node -p 'require(process.argv[1]).license' "$work/pkg/package/package.json")"

out="$work/out"
mkdir -p "$out"

cat >"$work/convert.mjs" <<'NODE'
// Converts the provider data that @pydantic/genai-prices ships inside dist/index.js
// into tollgate's catalog. Importing the module only defines its data and functions;
// nothing here asks it to fetch anything.
import { pathToFileURL } from 'node:url';
import fs from 'node:fs';

const [, , distPath, outDir, asOf, premiumMin, standardMin, pkgName, pkgVersion,
  sha512, sha256, license] = process.argv;
const gp = await import(pathToFileURL(distPath).href);

// Source provider id -> tollgate provider name, and which of its models to keep.
// Google's entry also prices Claude on Vertex AI; those are Anthropic's models and
// stay under `anthropic`, so only gemini-* and gemma-* are kept for `gemini`.
const PROVIDERS = [
  { source: 'anthropic', name: 'anthropic', keep: () => true },
  { source: 'google', name: 'gemini', keep: (id) => /^(gemini|gemma)/.test(id) },
  { source: 'openai', name: 'openai', keep: () => true },
];

const fail = (msg) => { console.error(`fetch-prices: ${msg}`); process.exit(1); };

// A JS number from the source as an exact decimal string. The source writes prices as
// short decimal literals, so the shortest round-trip form is the literal itself.
function decimal(n, where) {
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) fail(`bad price at ${where}: ${n}`);
  let s = String(n);
  if (/e/i.test(s)) {
    const [mant, expStr] = s.toLowerCase().split('e');
    const exp = Number(expStr);
    const [ip, fp = ''] = mant.split('.');
    let digits = ip + fp;
    let point = ip.length + exp;
    if (point <= 0) { digits = '0'.repeat(1 - point) + digits; point = 1; }
    if (point > digits.length) digits += '0'.repeat(point - digits.length);
    s = `${digits.slice(0, point)}.${digits.slice(point)}`.replace(/\.?0+$/, '');
    s = s.replace(/^0+(?=\d)/, '');
  }
  const frac = s.includes('.') ? s.split('.')[1].length : 0;
  if (frac > 9) fail(`price ${s} at ${where} needs more than nano-USD precision`);
  if (Number(s) !== n) fail(`price ${s} at ${where} does not round-trip`);
  return s;
}

// Exact comparison of two decimal strings (both non-negative, <= 9 fraction digits).
const nanos = (s) => {
  const [i, f = ''] = s.split('.');
  return BigInt(i) * 1000000000n + BigInt((f + '000000000').slice(0, 9));
};

// Source price keys -> tollgate rate names. Missing cached / cache-write prices fall
// back to the input price, as in the source's own calculation (a token with no price
// of its own is charged as an input token).
const RATE_KEYS = {
  input_per_mtok: 'input_mtok',
  output_per_mtok: 'output_mtok',
  cached_input_per_mtok: 'cache_read_mtok',
  cache_write_per_mtok: 'cache_write_mtok',
};

// The price of one source key for a call with `input` input tokens: a TieredPrices
// value switches the whole call to a tier's price once input > tier.start.
function priceAt(v, input) {
  if (v === undefined) return undefined;
  if (typeof v === 'number') return v;
  let p = v.base;
  for (const t of v.tiers) if (input > t.start) p = t.price;
  return p;
}

function ratesAt(prices, input, where) {
  const r = {};
  const inp = priceAt(prices.input_mtok, input) ?? 0;
  for (const [name, key] of Object.entries(RATE_KEYS)) {
    let v = priceAt(prices[key], input);
    if (v === undefined) v = (name === 'output_per_mtok') ? 0 : inp;
    r[name] = decimal(v, `${where}.${key}`);
  }
  return r;
}

function tiersOf(prices, where) {
  const starts = new Set();
  for (const key of Object.values(RATE_KEYS)) {
    const v = prices[key];
    if (v && typeof v === 'object') for (const t of v.tiers) starts.add(t.start);
  }
  return [...starts].sort((a, b) => a - b).map((start) => {
    if (!Number.isSafeInteger(start) || start < 0) fail(`bad tier start at ${where}`);
    return { above_input_tokens: start, ...ratesAt(prices, start + 1, `${where}.tiers`) };
  });
}

const tokenPriced = (prices) =>
  Object.keys(prices).length === 0 || Object.values(RATE_KEYS).some((k) => k in prices);

// The source's match logic as tollgate patterns: "x" exact, "x*" prefix, "*x" suffix,
// "*x*" contains (all case-insensitive). Date-snapshot regexes (^id-\d{4}-\d{2}-\d{2}$,
// ^id-\d{8}$) are covered by tollgate's dated-suffix rule and need no pattern; an `and`
// of a prefix with a negative look-ahead is approximated by the prefix (exact ids of
// the excluded models win over it). The round-trip check below proves the result.
function patterns(logic, where) {
  if ('or' in logic) return logic.or.flatMap((l) => patterns(l, where));
  if ('equals' in logic) return [logic.equals.toLowerCase()];
  if ('starts_with' in logic) return [`${logic.starts_with.toLowerCase()}*`];
  if ('ends_with' in logic) return [`*${logic.ends_with.toLowerCase()}`];
  if ('contains' in logic) return [`*${logic.contains.toLowerCase()}*`];
  if ('and' in logic && logic.and.length === 2 && logic.and[1].regex === NOT_TTS) {
    return patterns(logic.and[0], where);  // the exclusion goes to "except"
  }
  if ('regex' in logic) {
    const m = /^\^(.*)-\\d\{(?:4\}-\\d\{2\}-\\d\{2|8)\}\$$/.exec(logic.regex);
    if (m) return [];  // dated snapshot of an id matched exactly elsewhere
    const p = /^\^([a-z0-9\\.-]+)-\\d$/.exec(logic.regex);
    if (p) {  // "id-" followed by a digit: one prefix per digit
      const id = p[1].replace(/\\\./g, '.');
      return [...'0123456789'].map((d) => `${id}-${d}*`);
    }
  }
  fail(`cannot express match logic at ${where}: ${JSON.stringify(logic)}`);
}

// The source's "not a TTS model" guard, (?!.*-tts(-|$)), as tollgate "except" globs:
// a glob of the entry does not match a name that one of them matches.
const NOT_TTS = '^(?!.*-[tT][tT][sS](?:$|-))';
const NOT_TTS_EXCEPT = ['*-tts', '*-tts-*'];
const excepts = (logic) => ('or' in logic ? logic.or.some(excepts)
  : 'and' in logic ? logic.and.some((l) => l.regex === NOT_TTS) : false);

function globMatch(p, name) {
  const text = p.replace(/^\*|\*$/g, '');
  if (p.startsWith('*') && p.endsWith('*')) return name.includes(text);
  if (p.endsWith('*')) return name.startsWith(text);
  if (p.startsWith('*')) return name.endsWith(text);
  return name === p;
}

const DATE_SUFFIX = /-(\d{4}-\d{2}-\d{2}|\d{8})$/;

// tollgate's lookup (src/providers/prices.cc), mirrored to check the conversion:
// exact pattern; the name without a dated suffix, exact; then the most specific
// (longest) glob, prefix before suffix before contains, then by model id.
function resolve(index, model) {
  const name = model.toLowerCase();
  if (index.exact.has(name)) return index.exact.get(name);
  const m = DATE_SUFFIX.exec(name);
  if (m) {
    const base = name.slice(0, m.index);
    if (index.exact.has(base)) return index.exact.get(base);
  }
  for (const g of index.globs) {
    if (g.test(name) && !g.except.some((x) => globMatch(x, name))) return g.model;
  }
  return null;
}

function buildIndex(entries) {
  const exact = new Map();
  const globs = [];
  const rank = { prefix: 0, suffix: 1, contains: 2 };
  for (const e of entries) {
    for (const p of e.match) {
      const starts = p.startsWith('*'), ends = p.endsWith('*');
      const text = p.replace(/^\*|\*$/g, '');
      if (!starts && !ends) {
        if (exact.has(p) && exact.get(p) !== e.model) fail(`${e.provider}: ${p} is claimed twice`);
        exact.set(p, e.model);
        continue;
      }
      const kind = starts && ends ? 'contains' : ends ? 'prefix' : 'suffix';
      const test = kind === 'prefix' ? (n) => n.startsWith(text)
        : kind === 'suffix' ? (n) => n.endsWith(text) : (n) => n.includes(text);
      globs.push({ kind, text, model: e.model, test, except: e.except ?? [] });
    }
  }
  globs.sort((a, b) => b.text.length - a.text.length || rank[a.kind] - rank[b.kind] ||
    (a.model < b.model ? -1 : a.model > b.model ? 1 : 0));
  return { exact, globs };
}

const asOfDate = new Date(`${asOf}T00:00:00Z`);
const entries = [];
const skipped = [];
const mismatches = [];
let extended = 0;
let probes = 0;

for (const prov of PROVIDERS) {
  const p = gp.findProvider({ providerId: prov.source });
  if (!p || p.id !== prov.source) fail(`provider ${prov.source} not in the package`);
  const kept = [];
  for (const model of p.models) {
    if (!prov.keep(model.id)) continue;
    const where = `${prov.source}/${model.id}`;
    // Conditional prices: the one in effect on AS_OF, and later ones as "scheduled".
    let current = model.prices;
    const scheduled = [];
    if (Array.isArray(model.prices)) {
      current = null;
      for (const cp of model.prices) {
        const c = cp.constraint;
        if (c === undefined) { current ??= cp.prices; continue; }
        if (c.type !== 'start_date') fail(`unsupported price constraint at ${where}`);
        if (new Date(`${c.start_date}T00:00:00Z`) <= asOfDate) current = cp.prices;
        else scheduled.push({ start_date: c.start_date, prices: cp.prices });
      }
      if (!current) fail(`no price in effect on ${asOf} at ${where}`);
    }
    if (!tokenPriced(current)) { skipped.push(`${prov.name}:${model.id}`); continue; }
    const match = [...new Set(patterns(model.match, where))];
    const id = model.id.toLowerCase();
    const entry = {
      provider: prov.name,
      model: id,
      tier: '',
      match: [],
      ...ratesAt(current, 0, where),
    };
    const tiers = tiersOf(current, where);
    if (excepts(model.match)) entry.except = NOT_TTS_EXCEPT;
    if (tiers.length) entry.tiers = tiers;
    if (scheduled.length) {
      entry.scheduled = scheduled.map((s) => {
        const o = { start_date: s.start_date, ...ratesAt(s.prices, 0, `${where}@${s.start_date}`) };
        const t = tiersOf(s.prices, `${where}@${s.start_date}`);
        if (t.length) o.tiers = t;
        return o;
      });
    }
    const basis = nanos(entry.output_per_mtok) > 0n ? entry.output_per_mtok : entry.input_per_mtok;
    entry.tier = nanos(basis) >= nanos(premiumMin) ? 'premium'
      : nanos(basis) >= nanos(standardMin) ? 'standard' : 'economy';
    entry._logic = model.match;
    entry._match = match;
    kept.push(entry);
  }

  // The canonical id answers to itself when the source's own rules accept it.
  const src = (name) => {
    const r = gp.calcPrice({ input_tokens: 1, output_tokens: 1 }, name, { providerId: prov.source });
    return r && r.provider.id === prov.source ? r.model.id.toLowerCase() : null;
  };
  for (const e of kept) {
    e.match = [...new Set([...(src(e.model) === e.model ? [e.model] : []), ...e._match])].sort();
  }
  const index = buildIndex(kept);

  // Round-trip check: every name the source's rules mention, with common suffixes,
  // must resolve to the same model in tollgate as in the source (or to a model only
  // tollgate finds, through its dated-suffix rule).
  const names = new Set();
  const walk = (l) => {
    if ('or' in l) l.or.forEach(walk);
    else if ('and' in l) l.and.forEach(walk);
    else for (const k of ['equals', 'starts_with', 'ends_with', 'contains']) {
      if (k in l) {
        const s = l[k].toLowerCase();
        names.add(s);
        for (const suffix of ['-2025-01-01', '-20250101', '-preview', '-latest', '-tts',
          '-lite', '-001', '-exp', '-mini', '-preview-tts']) names.add(s + suffix);
      }
    }
  };
  for (const e of kept) {
    walk(e._logic);
    names.add(e.model);
    names.add(`${e.model}-2099-12-31`);
    names.add(`${e.model}-20991231`);
  }
  const keptIds = new Set(kept.map((e) => e.model));
  for (const n of [...names].sort()) {
    probes++;
    const want = src(n);
    const got = resolve(index, n);
    if (want !== null && !keptIds.has(want)) continue;  // a model tollgate does not keep
    if (want === got) continue;
    if (want === null && got !== null && DATE_SUFFIX.test(n)) { extended++; continue; }
    mismatches.push(`${prov.name}: ${n}: source ${want}, tollgate ${got}`);
  }
  for (const e of kept) { delete e._logic; delete e._match; entries.push(e); }
}

if (mismatches.length) fail(`lookup differs from the source:\n  ${mismatches.join('\n  ')}`);

entries.sort((a, b) => (a.provider + '\0' + a.model < b.provider + '\0' + b.model ? -1 : 1));
const source = { package: pkgName, version: pkgVersion, license, sha512, sha256, as_of: asOf };
const body = entries.map((e) => JSON.stringify(e)).join(',\n');
fs.writeFileSync(`${outDir}/prices.json`,
  `{"format":1,\n"source":${JSON.stringify(source)},\n"entries":[\n${body}\n]}\n`);

const count = (p) => entries.filter((e) => e.provider === p).length;
const stats = { anthropic: count('anthropic'), gemini: count('gemini'), openai: count('openai'),
  skipped, probes, extended };
fs.writeFileSync(`${outDir}/stats.json`, JSON.stringify(stats));
NODE

node "$work/convert.mjs" "$work/pkg/package/dist/index.js" "$out" "$AS_OF" \
  "$PREMIUM_MIN_OUTPUT" "$STANDARD_MIN_OUTPUT" "$PKG_NAME" "$PKG_VERSION" \
  "$PKG_SHA512" "$PKG_SHA256" "$license"

stat_of() { node -p "const s=require(process.argv[1]); $1" "$out/stats.json"; }
cat >"$out/PRICES-SOURCE.md" <<EOF
# Price catalog source

\`data/prices.json\` is generated by \`tools/fetch-prices.sh\`; do not edit it by hand
(admins override prices at run time through \`PUT /api/admin/prices/{provider}:{model}\`).
It is compiled into the tollgate binary; nothing reads it at run time.

| | |
| --- | --- |
| package | [\`${PKG_NAME}\`](https://www.npmjs.com/package/${PKG_NAME}) ${PKG_VERSION} |
| upstream | https://github.com/pydantic/genai-prices |
| licence | ${license} (Copyright (c) Pydantic Services Inc.) |
| tarball sha512 | \`${PKG_SHA512}\` |
| tarball sha256 | \`${PKG_SHA256}\` |
| prices as of | ${AS_OF} (later start-dated prices are kept under \`scheduled\`) |
| entries | anthropic $(stat_of s.anthropic), gemini $(stat_of s.gemini), openai $(stat_of s.openai) |
| lookup check | $(stat_of s.probes) model names resolve as in the source ($(stat_of s.extended) more through the dated-suffix rule) |

Left out, because they are not priced per token: $(stat_of "s.skipped.join(', ') || 'none'").

The package ships its data inside \`dist/index.js\`; the script imports that module
(without calling its remote-update function) and converts the OpenAI, Anthropic and
Google providers. Tiers: premium when the output price is at least \$${PREMIUM_MIN_OUTPUT}
per million tokens, standard from \$${STANDARD_MIN_OUTPUT}, economy below (the input
price for models with no output price). See \`docs/prices.md\` for the format.

## Regenerate

    tools/fetch-prices.sh          # writes data/prices.json and this file
    tools/fetch-prices.sh --check  # fails when data/ is not what the pinned release gives

Needs node (>= 20) and npm, and reaches only the npm registry. To move to a new
release, change \`PKG_VERSION\` and the pinned checksums at the top of the script
(\`npm view ${PKG_NAME}@<version> dist.integrity\` gives the sha512).
EOF

if [ "$check" = 1 ]; then
  diff -u "$root/data/prices.json" "$out/prices.json" &&
    diff -u "$root/data/PRICES-SOURCE.md" "$out/PRICES-SOURCE.md" &&
    echo "fetch-prices: data/ is up to date"
  exit
fi
mkdir -p "$root/data"
cp "$out/prices.json" "$root/data/prices.json"
cp "$out/PRICES-SOURCE.md" "$root/data/PRICES-SOURCE.md"
echo "fetch-prices: wrote data/prices.json ($(wc -c <"$out/prices.json") bytes) and data/PRICES-SOURCE.md"
