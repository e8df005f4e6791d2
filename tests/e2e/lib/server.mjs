// Starts and stops real `tollgate serve` processes for the end-to-end tests, on an
// ephemeral port and a fresh data directory, and gives them a small JSON client.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const TOLLGATE = process.env.TOLLGATE_BIN;
if (!TOLLGATE) throw new Error('TOLLGATE_BIN must name the tollgate binary');

export const ADMIN_KEY = 'tg_e2e_admin_key_0123456789abcdefghijklmnopqrstuvwxyz';

export class Server {
  // options: { dataDir?, config? (TOML text), env? }
  constructor(options = {}) {
    this.ownDir = !options.dataDir;
    this.dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'tollgate-e2e-'));
    this.options = options;
    this.output = '';
  }

  async start() {
    const args = ['serve', '--listen', '127.0.0.1:0', '--data-dir', this.dataDir];
    if (this.options.config) {
      const path = join(this.dataDir, 'tollgate.toml');
      writeFileSync(path, this.options.config);
      args.push('--config', path);
    }
    this.proc = spawn(TOLLGATE, args, {
      env: { PATH: process.env.PATH, TOLLGATE_ADMIN_KEY: ADMIN_KEY, ...this.options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.exited = new Promise((resolve) => this.proc.on('exit', (code, signal) => resolve({ code, signal })));
    const onData = (d) => { this.output += d.toString(); };
    this.proc.stdout.on('data', onData);
    this.proc.stderr.on('data', onData);
    const deadline = Date.now() + 20000;
    while (Date.now() < deadline) {
      const m = this.output.match(/listening on http:\/\/127\.0\.0\.1:(\d+)/);
      if (m) {
        this.port = Number(m[1]);
        this.base = `http://127.0.0.1:${this.port}`;
        return this;
      }
      if (this.proc.exitCode !== null) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`tollgate did not start:\n${this.output}`);
  }

  // Stops the process: SIGTERM by default, or SIGKILL for crash tests.
  async stop(signal = 'SIGTERM') {
    if (this.proc && this.proc.exitCode === null && this.proc.signalCode === null) {
      this.proc.kill(signal);
      await this.exited;
    }
  }

  cleanup() {
    if (this.ownDir) rmSync(this.dataDir, { recursive: true, force: true });
  }

  // JSON request; returns { status, headers, body (parsed JSON or text) }.
  async req(method, path, { key = ADMIN_KEY, body, raw, headers = {} } = {}) {
    const h = { ...headers };
    if (key) h.authorization = `Bearer ${key}`;
    let payload;
    if (raw !== undefined) payload = raw;
    else if (body !== undefined) {
      payload = JSON.stringify(body);
      h['content-type'] = 'application/json';
    }
    const res = await fetch(this.base + path, { method, headers: h, body: payload });
    const text = await res.text();
    let parsed = text;
    if ((res.headers.get('content-type') ?? '').includes('json')) {
      try { parsed = JSON.parse(text); } catch { /* leave as text */ }
    }
    return { status: res.status, headers: res.headers, body: parsed };
  }
}

// Starts a server and registers its shutdown with node:test's lifecycle hooks.
export async function startServer(t, options) {
  const s = await new Server(options).start();
  t.after(async () => { await s.stop(); s.cleanup(); });
  return s;
}

// Creates a tenant and returns { tenant, keys: {tenant_admin, agent, client} }.
export async function setupTenant(s, id, extra = {}) {
  const t = await s.req('POST', '/api/admin/tenants', { body: { id, name: `Tenant ${id}`, ...extra } });
  if (t.status !== 201) throw new Error(`create tenant ${id}: ${t.status} ${JSON.stringify(t.body)}`);
  const keys = {};
  for (const role of ['tenant_admin', 'agent', 'client']) {
    const k = await s.req('POST', '/api/admin/keys', { body: { role, tenant_id: id, name: `${role} of ${id}` } });
    if (k.status !== 201) throw new Error(`create key: ${k.status} ${JSON.stringify(k.body)}`);
    keys[role] = k.body.key;
  }
  return { tenant: t.body, keys };
}
