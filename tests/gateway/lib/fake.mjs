// Starts and stops `tollgate fake-provider` processes for the end-to-end tests: an
// ephemeral port, optional flags, and helpers for its /_fake/requests log.
import { spawn } from 'node:child_process';

export const TOLLGATE = process.env.TOLLGATE_BIN;
if (!TOLLGATE) throw new Error('TOLLGATE_BIN must name the tollgate binary');

// The words of the fake provider's replies, in order (src/fakeprovider/reply.cc).
const WORDS = ('lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor ' +
  'incididunt ut labore et dolore magna aliqua enim ad minim veniam quis nostrud exercitation ' +
  'ullamco laboris nisi aliquip ex ea commodo consequat').split(' ');

// The reply text of `n` output tokens: n words.
export function replyText(n) {
  return Array.from({ length: n }, (_, i) => WORDS[i % WORDS.length]).join(' ');
}

// The fake's input estimate for a prompt of `text` (all prompt strings concatenated).
export function estimateTokens(text) {
  return Math.max(1, Math.ceil(Buffer.byteLength(text) / 4));
}

export class FakeProvider {
  // options: { apiKey?, latencyMs?, chunkDelayMs?, inputTokens?, outputTokens?, threads?,
  //            args? (extra flags) }
  constructor(options = {}) {
    this.options = options;
    this.output = '';
  }

  async start() {
    const o = this.options;
    const args = ['fake-provider', '--listen', '127.0.0.1:0'];
    if (o.apiKey) args.push('--api-key', o.apiKey);
    if (o.latencyMs !== undefined) args.push('--latency-ms', String(o.latencyMs));
    if (o.chunkDelayMs !== undefined) args.push('--chunk-delay-ms', String(o.chunkDelayMs));
    if (o.inputTokens !== undefined) args.push('--input-tokens', String(o.inputTokens));
    if (o.outputTokens !== undefined) args.push('--output-tokens', String(o.outputTokens));
    if (o.threads !== undefined) args.push('--threads', String(o.threads));
    args.push(...(o.args ?? []));
    this.proc = spawn(TOLLGATE, args, {
      env: { PATH: process.env.PATH },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve({ code, signal })));
    const onData = (d) => { this.output += d.toString(); };
    this.proc.stdout.on('data', onData);
    this.proc.stderr.on('data', onData);
    const deadline = Date.now() + 20000;
    while (Date.now() < deadline) {
      const m = this.output.match(/fake provider listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) {
        this.port = Number(m[1]);
        this.base = `http://127.0.0.1:${this.port}`;
        return this;
      }
      if (this.proc.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`fake provider did not start:\n${this.output}`);
  }

  async stop(signal = 'SIGTERM') {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill(signal);
      await this.exited;
    }
  }

  // The last requests received: [{method, target, headers, body}], newest last.
  async requests() {
    const res = await fetch(`${this.base}/_fake/requests`);
    if (!res.ok) throw new Error(`GET /_fake/requests: ${res.status}`);
    return res.json();
  }

  async clearRequests() {
    const res = await fetch(`${this.base}/_fake/requests`, { method: 'DELETE' });
    if (!res.ok) throw new Error(`DELETE /_fake/requests: ${res.status}`);
  }
}

// Starts a fake provider and registers its shutdown with node:test's lifecycle hooks.
export async function startFake(t, options) {
  const f = await new FakeProvider(options).start();
  t.after(() => f.stop());
  return f;
}
