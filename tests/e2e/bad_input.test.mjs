// Hostile and malformed input on every endpoint: each gets a 4xx naming the problem,
// and the store is unchanged afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, setupTenant } from './lib/server.mjs';

const TWO63 = '9223372036854775808';
const deep = (n) => '['.repeat(n) + ']'.repeat(n);

async function snapshot(s) {
  const parts = [];
  for (const p of ['/api/admin/tenants', '/api/admin/keys', '/api/admin/limits', '/api/admin/usage/events?limit=1000',
    '/api/admin/usage/summary', '/api/admin/prices']) {
    const r = await s.req('GET', p);
    assert.equal(r.status, 200, p);
    parts.push(r.body);
  }
  return JSON.stringify(parts);
}

// [method, path, key role, raw body, expected status, message pattern]
function cases(limitId) {
  const check = (over) => JSON.stringify({ user_id: 'u1', provider: 'openai', model: 'gpt-4o', input_tokens: 1, ...over });
  const report = (over) => JSON.stringify({ idempotency_key: 'bad', user_id: 'u1', provider: 'openai', model: 'gpt-4o', usage: { prompt_tokens: 1, completion_tokens: 1 }, ...over });
  const limit = (over) => JSON.stringify({ scope: { level: 'user', subject_id: '*' }, metric: 'tokens', window: { unit: 'day' }, limit: 5, ...over });
  const rawNum = (field, n) => check({}).replace('"input_tokens":1', `"${field}":${n}`);
  return [
    ['POST', '/api/agent/usage/check', 'agent', '{', 400, /JSON/i],
    ['POST', '/api/agent/usage/check', 'agent', '[1,2]', 400, /object/i],
    ['POST', '/api/agent/usage/check', 'agent', '', 400, /JSON|body/i],
    ['POST', '/api/agent/usage/check', 'agent', check({ input_tokens: -1 }), 400, /input_tokens/],
    ['POST', '/api/agent/usage/check', 'agent', rawNum('input_tokens', TWO63), 400, /input_tokens/],
    ['POST', '/api/agent/usage/check', 'agent', check({ input_tokens: '12' }), 400, /input_tokens/],
    ['POST', '/api/agent/usage/check', 'agent', check({ input_tokens: 1.5 }), 400, /input_tokens/],
    ['POST', '/api/agent/usage/check', 'agent', check({ max_output_tokens: -5 }), 400, /max_output_tokens/],
    ['POST', '/api/agent/usage/check', 'agent', check({ user_id: 'a b' }), 400, /user_id/],
    ['POST', '/api/agent/usage/check', 'agent', check({ user_id: 'x'.repeat(129) }), 400, /user_id/],
    ['POST', '/api/agent/usage/check', 'agent', check({ user_id: 7 }), 400, /user_id/],
    ['POST', '/api/agent/usage/check', 'agent', check({ agent: '../etc' }), 400, /agent/],
    ['POST', '/api/agent/usage/check', 'agent', check({ provider: undefined }), 400, /provider/],
    ['POST', '/api/agent/usage/check', 'agent', check({ model: '' }), 400, /model/],
    ['POST', '/api/agent/usage/check', 'agent', check({ input_tokens: undefined }), 400, /input_tokens|messages|text/],
    ['POST', '/api/agent/usage/check', 'agent', `{"a":${deep(200)}}`, 400, /deep|nest/i],
    ['POST', '/api/agent/usage/check', 'agent', JSON.stringify({ pad: 'x'.repeat(10 * 1024 * 1024) }), 413, /large|body/i],
    ['POST', '/api/agent/usage/report', 'agent', report({ usage: { prompt_tokens: -3 } }), 400, /prompt_tokens/],
    ['POST', '/api/agent/usage/report', 'agent', report({ usage: { input_tokens: Number(TWO63) } }), 400, /input_tokens/],
    ['POST', '/api/agent/usage/report', 'agent', report({ usage: 'lots' }), 400, /usage/],
    ['POST', '/api/agent/usage/report', 'agent', report({ usage: undefined }), 400, /usage/],
    ['POST', '/api/agent/usage/report', 'agent', report({ idempotency_key: undefined }), 400, /idempotency_key/],
    ['POST', '/api/agent/usage/report', 'agent', report({ idempotency_key: 'x'.repeat(300) }), 400, /idempotency_key/],
    ['POST', '/api/agent/usage/report', 'agent', report({ latency_ms: -1 }), 400, /latency_ms/],
    ['POST', '/api/agent/usage/report', 'agent', report({ status: 'great' }), 400, /status/],
    ['POST', '/api/agent/usage/report', 'agent', report({ user_id: 'ü' }), 400, /user_id/],
    ['POST', '/api/agent/usage/release', 'agent', '{}', 400, /reservation_id/],
    ['POST', '/api/agent/usage/release', 'agent', '{"reservation_id":5}', 400, /reservation_id/],
    ['GET', '/api/agent/usage/status?user_id=%00bad', 'agent', undefined, 400, /user_id/],
    ['POST', '/api/client/usage/limits', 'tenant_admin', limit({ limit: -1 }), 400, /limit/],
    ['POST', '/api/client/usage/limits', 'tenant_admin', limit({ limit: Number(TWO63) }), 400, /limit/],
    ['POST', '/api/client/usage/limits', 'tenant_admin', limit({ metric: 'bananas' }), 400, /metric/],
    ['POST', '/api/client/usage/limits', 'tenant_admin', limit({ window: { unit: 'fortnight' } }), 400, /window/],
    ['POST', '/api/client/usage/limits', 'tenant_admin', limit({ window: { unit: 'day', size: 0 } }), 400, /size/],
    ['POST', '/api/client/usage/limits', 'tenant_admin', limit({ window: { unit: 'day', kind: 'lunar' } }), 400, /kind/],
    ['POST', '/api/client/usage/limits', 'tenant_admin', limit({ scope: { level: 'planet' } }), 400, /level/],
    ['POST', '/api/client/usage/limits', 'tenant_admin', limit({ scope: { level: 'user', subject_id: 'a/b' } }), 400, /subject_id/],
    ['POST', '/api/client/usage/limits', 'tenant_admin', limit({ action: 'explode' }), 400, /action/],
    ['POST', '/api/client/usage/limits', 'tenant_admin', limit({ mode: 'loud' }), 400, /mode/],
    ['POST', '/api/client/usage/limits', 'tenant_admin', limit({ models: 'gpt' }), 400, /models/],
    ['POST', '/api/client/usage/limits', 'tenant_admin', limit({ models: ['no spaces allowed'] }), 400, /models/],
    ['POST', '/api/client/usage/limits', 'tenant_admin', limit({ alert_thresholds: [-1] }), 400, /alert_thresholds/],
    ['POST', '/api/client/usage/limits', 'tenant_admin', limit({ limit: undefined }), 400, /limit/],
    ['PUT', `/api/client/usage/limits/${limitId}`, 'tenant_admin', limit({ limit: 'many' }), 400, /limit/],
    ['PUT', '/api/client/usage/limits/bad%20id', 'tenant_admin', limit({}), 404, /not found|exist/i],
    ['GET', '/api/client/usage/events?limit=-4', 'tenant_admin', undefined, 400, /limit/],
    ['GET', '/api/client/usage/events?limit=abc', 'tenant_admin', undefined, 400, /limit/],
    ['GET', '/api/client/usage/events?from=yesterday', 'tenant_admin', undefined, 400, /from/],
    ['GET', '/api/client/usage/events?cursor=not-a-cursor', 'tenant_admin', undefined, 400, /cursor/],
    ['GET', '/api/client/usage/history?granularity=hourly', 'tenant_admin', undefined, 400, /granularity/],
    ['GET', '/api/client/usage/history?group_by=color', 'tenant_admin', undefined, 400, /group_by/],
    ['GET', '/api/client/usage/export?format=xml', 'tenant_admin', undefined, 400, /format/],
    ['POST', '/api/admin/tenants', 'admin', '{"id":"has space"}', 400, /id/],
    ['POST', '/api/admin/tenants', 'admin', '{"id":"ok","timezone":"Mars/Olympus"}', 400, /timezone/],
    ['POST', '/api/admin/tenants', 'admin', '{"id":"ok","mode":"chaos"}', 400, /mode/],
    ['POST', '/api/admin/tenants', 'admin', '{}', 400, /id/],
    ['PUT', '/api/admin/tenants/acme', 'admin', '{"name":5}', 400, /name/],
    ['POST', '/api/admin/keys', 'admin', '{"role":"overlord","tenant_id":"acme"}', 400, /role/],
    ['POST', '/api/admin/keys', 'admin', '{"role":"agent"}', 400, /tenant_id/],
    ['POST', '/api/admin/keys', 'admin', '{"role":"agent","tenant_id":"nope"}', 404, /tenant/],
    ['POST', '/api/admin/limits', 'admin', limit({ scope: { level: 'global', tenant_id: 'acme' } }), 400, /scope/],
    ['GET', '/api/admin/usage/summary?days=-1', 'admin', undefined, 400, /days/],
    ['GET', '/api/admin/usage/summary?days=100000000000000000000', 'admin', undefined, 400, /days/],
    ['PUT', '/api/admin/prices/openai:gpt-x', 'admin', '{"input_per_mtok":-1,"output_per_mtok":1}', 400, /input_per_mtok/],
    ['PUT', '/api/admin/prices/openai:gpt-x', 'admin', '{"input_per_mtok":"1e3","output_per_mtok":1}', 400, /input_per_mtok/],
    ['PUT', '/api/admin/prices/nocolon', 'admin', '{"input_per_mtok":1,"output_per_mtok":1}', 400, /provider/],
  ];
}

test('bad input gets a 4xx naming the problem and changes nothing', async (t) => {
  const s = await startServer(t);
  const { keys } = await setupTenant(s, 'acme');
  const lim = await s.req('POST', '/api/client/usage/limits', {
    key: keys.tenant_admin,
    body: { scope: { level: 'user', subject_id: '*' }, metric: 'tokens', window: { unit: 'day' }, limit: 100 },
  });
  assert.equal(lim.status, 201);
  const keyOf = { admin: undefined, ...keys };
  const before = await snapshot(s);
  for (const [method, path, role, raw, status, pattern] of cases(lim.body.id)) {
    const headers = raw !== undefined ? { 'content-type': 'application/json' } : {};
    const r = await s.req(method, path, { key: keyOf[role], raw, headers });
    const what = `${method} ${path} ${raw?.slice(0, 80)}`;
    assert.equal(r.status, status, `${what}: ${JSON.stringify(r.body).slice(0, 300)}`);
    assert.match(r.body.error.message, pattern, what);
  }
  assert.equal(await snapshot(s), before);
});

test('malformed headers and unknown routes', async (t) => {
  const s = await startServer(t);
  const r = await s.req('GET', '/api/admin/tenants', { key: null, headers: { authorization: 'Basic abc' } });
  assert.equal(r.status, 401);
  assert.equal((await s.req('GET', '/api/nothing-here')).status, 404);
  assert.equal((await s.req('PATCH', '/api/admin/tenants')).status, 405);
});
