// The CLI against a real server: keys create, limits set/list/rm, usage, migrate.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, setupTenant, ADMIN_KEY, TOLLGATE, Server } from './lib/server.mjs';

function cli(s, args, key = ADMIN_KEY) {
  return spawnSync(TOLLGATE, [...args, '--url', s.base], {
    env: { PATH: process.env.PATH, TOLLGATE_KEY: key }, encoding: 'utf8',
  });
}

test('keys, limits and usage from the command line', async (t) => {
  const s = await startServer(t);
  await setupTenant(s, 'acme');
  const key = cli(s, ['keys', 'create', '--role', 'agent', '--tenant', 'acme', '--name', 'bot']);
  assert.equal(key.status, 0, key.stderr);
  const secret = key.stdout.match(/key: +(\S+)/)[1];
  const st = await s.req('GET', '/api/agent/usage/status?user_id=x', { key: secret });
  assert.equal(st.status, 200);
  const unnamed = cli(s, ['keys', 'create', '--role', 'client', '--tenant', 'acme']);
  assert.equal(unnamed.status, 0, unnamed.stderr);

  const set = cli(s, ['limits', 'set', '--level', 'user', '--tenant', 'acme', '--subject', '*',
    '--metric', 'tokens', '--unit', 'day', '--limit', '5000']);
  assert.equal(set.status, 0, set.stderr);
  const id = set.stdout.trim();
  assert.match(id, /^lim_/);
  const list = cli(s, ['limits', 'list', '--tenant', 'acme']);
  assert.equal(list.status, 0, list.stderr);
  assert.match(list.stdout, new RegExp(`${id} +user:acme/\\* +tokens +1 day calendar +5000`));

  const bad = cli(s, ['limits', 'set', '--level', 'user', '--tenant', 'acme', '--subject', 'a b', '--limit', '5']);
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /subject_id/);

  await s.req('POST', '/api/agent/usage/report', {
    key: secret,
    body: { idempotency_key: 'k', user_id: 'alice', provider: 'openai', model: 'gpt-4o', usage: { prompt_tokens: 11, completion_tokens: 22 } },
  });
  const csv = cli(s, ['usage', '--tenant', 'acme', '--days', '1', '--format', 'csv']);
  assert.equal(csv.status, 0, csv.stderr);
  const rows = csv.stdout.trim().split('\n');
  assert.equal(rows[0], 'date,prompt_tokens,completion_tokens,total_tokens,input_cost_usd,output_cost_usd,requests');
  assert.match(rows[1], /^\d{4}-\d\d-\d\d,11,22,33,/);
  const table = cli(s, ['usage', '--tenant', 'acme', '--days', '1']);
  assert.equal(table.status, 0, table.stderr);
  assert.doesNotMatch(table.stdout, /\dE-?\d/, 'money reads as plain decimals');
  const json = JSON.parse(cli(s, ['usage', '--tenant', 'acme', '--format', 'json']).stdout);
  assert.equal(json.totals.total_tokens, 33);

  const rm = cli(s, ['limits', 'rm', id]);
  assert.equal(rm.status, 0, rm.stderr);
  assert.equal((await s.req('GET', `/api/admin/limits/${id}`)).status, 404);
  const denied = cli(s, ['limits', 'list'], secret);
  assert.notEqual(denied.status, 0);
  assert.match(denied.stderr, /403/);
});

test('a first start without TOLLGATE_ADMIN_KEY writes a private admin.key; migrate is idempotent', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-cli-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const m1 = execFileSync(TOLLGATE, ['migrate', '--data-dir', dir], { env: { PATH: process.env.PATH }, encoding: 'utf8' });
  assert.match(m1, /schema version \d+/);
  const m2 = execFileSync(TOLLGATE, ['migrate', '--data-dir', dir], { env: { PATH: process.env.PATH }, encoding: 'utf8' });
  assert.equal(m1, m2);
  const s = new Server({ dataDir: dir, env: { TOLLGATE_ADMIN_KEY: '' } });
  await s.start();
  t.after(() => s.stop());
  const keyFile = join(dir, 'admin.key');
  assert.equal(statSync(keyFile).mode & 0o777, 0o600);
  const secret = readFileSync(keyFile, 'utf8').trim();
  assert.ok(s.output.includes(secret), 'the generated key is printed once');
  assert.equal((await s.req('GET', '/api/admin/tenants', { key: secret })).status, 200);
  assert.equal((await s.req('GET', '/api/admin/tenants')).status, 401);
});

test('bad configuration stops the start naming the key', async () => {
  const r = spawnSync(TOLLGATE, ['serve', '--listen', '127.0.0.1:0', '--data-dir', tmpdir()], {
    env: { PATH: process.env.PATH, TOLLGATE_SERVER_THREADS: 'many' }, encoding: 'utf8',
  });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /TOLLGATE_SERVER_THREADS/);
  const u = spawnSync(TOLLGATE, ['serve', '--listen', '127.0.0.1:0', '--data-dir', tmpdir()], {
    env: { PATH: process.env.PATH, TOLLGATE_SERVER_COLOUR: 'blue' }, encoding: 'utf8',
  });
  assert.notEqual(u.status, 0);
  assert.match(u.stderr, /TOLLGATE_SERVER_COLOUR/);
});
