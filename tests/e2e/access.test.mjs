// The access matrix: every role against every route, and tenant isolation (another
// tenant's resources answer 404, never its numbers).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, setupTenant, ADMIN_KEY } from './lib/server.mjs';

const ROLES = ['none', 'bad', 'admin', 'tenant_admin', 'agent', 'client'];

// [method, path (admin adds tenant_id), body, roles allowed]
function routes(ids) {
  const check = { user_id: 'u1', provider: 'openai', model: 'gpt-4o', input_tokens: 1 };
  const limit = { scope: { level: 'tenant' }, metric: 'requests', window: { unit: 'day' }, limit: 1000 };
  const report = { idempotency_key: 'r', user_id: 'u1', provider: 'openai', model: 'gpt-4o', usage: { prompt_tokens: 1, completion_tokens: 1 } };
  const A = ['admin'];
  const TA = ['admin', 'tenant_admin'];
  const AG = ['admin', 'tenant_admin', 'agent'];
  return [
    ['POST', '/api/agent/usage/check', check, AG],
    ['POST', '/api/agent/usage/report', report, AG],
    ['POST', '/api/agent/usage/release', { reservation_id: 'rsv_none' }, AG, 404],
    ['GET', '/api/agent/usage/status?user_id=u1', undefined, AG],
    ['GET', '/api/client/usage/status', undefined, TA],
    ['GET', '/api/client/usage/limits', undefined, TA],
    ['POST', '/api/client/usage/limits', limit, TA],
    ['GET', `/api/client/usage/limits/${ids.limit}`, undefined, TA],
    ['PUT', `/api/client/usage/limits/${ids.limit}`, limit, TA],
    ['GET', '/api/client/usage/history', undefined, TA],
    ['GET', '/api/client/usage/events', undefined, TA],
    ['GET', '/api/client/usage/export?format=jsonl', undefined, TA],
    ['GET', '/api/admin/tenants', undefined, A],
    ['POST', '/api/admin/tenants', { id: 'new-tenant' }, A],
    ['GET', '/api/admin/tenants/acme', undefined, A],
    ['PUT', '/api/admin/tenants/acme', { name: 'x' }, A],
    ['GET', '/api/admin/keys', undefined, A],
    ['POST', '/api/admin/keys', { role: 'client', tenant_id: 'acme' }, A],
    ['GET', '/api/admin/limits', undefined, A],
    ['POST', '/api/admin/limits', { ...limit, scope: { level: 'global' } }, A],
    ['GET', `/api/admin/limits/${ids.limit}`, undefined, A],
    ['GET', '/api/admin/usage/summary', undefined, A],
    ['GET', '/api/admin/usage/events', undefined, A],
    ['GET', '/api/admin/prices', undefined, A],
    ['PUT', '/api/admin/prices/openai:x-model', { input_per_mtok: 1, output_per_mtok: 2 }, A],
    ['DELETE', `/api/client/usage/limits/${ids.limit}`, undefined, TA],
    ['DELETE', `/api/admin/keys/${ids.key}`, undefined, A],
  ];
}

test('every role against every route', async (t) => {
  const s = await startServer(t);
  const { keys } = await setupTenant(s, 'acme');
  const keyOf = { none: null, bad: 'tg_not_a_key_000000000000000000000000', admin: ADMIN_KEY, ...keys };
  let n = 0;
  for (const role of ROLES) {
    // Fresh resources for each role so deletes by one role do not hide another's answer.
    const lim = await s.req('POST', '/api/client/usage/limits', {
      key: keys.tenant_admin,
      body: { scope: { level: 'user', subject_id: 'zed' }, metric: 'tokens', window: { unit: 'day' }, limit: 1e9 },
    });
    const spare = await s.req('POST', '/api/admin/keys', { body: { role: 'client', tenant_id: 'acme' } });
    await s.req('DELETE', '/api/admin/tenants/new-tenant');
    for (const [method, path0, body, allowed, okStatus] of routes({ limit: lim.body.id, key: spare.body.id })) {
      let path = path0;
      if (role === 'admin' && (path.startsWith('/api/client') || path.startsWith('/api/agent'))) {
        path += (path.includes('?') ? '&' : '?') + 'tenant_id=acme';
      }
      const r = await s.req(method, path, { key: keyOf[role], body: body && { ...body, idempotency_key: body.idempotency_key && `${role}-${n}` } });
      n++;
      let want;
      if (role === 'none' || role === 'bad') want = [401];
      else if (allowed.includes(role)) want = okStatus ? [okStatus] : [200, 201];
      else want = [403];
      assert.ok(want.includes(r.status), `${role} ${method} ${path}: got ${r.status} ${JSON.stringify(r.body)}, want ${want}`);
      if (r.status >= 400) {
        assert.equal(typeof r.body.error?.message, 'string', `${role} ${method} ${path}: error body`);
        assert.equal(typeof r.body.error?.type, 'string');
      }
    }
  }
});

test('a tenant never sees or changes another tenant', async (t) => {
  const s = await startServer(t);
  const a = await setupTenant(s, 'acme');
  const b = await setupTenant(s, 'bravo');
  const limA = await s.req('POST', '/api/client/usage/limits', {
    key: a.keys.tenant_admin,
    body: { scope: { level: 'tenant' }, metric: 'tokens', window: { unit: 'day' }, limit: 777 },
  });
  const chkA = await s.req('POST', '/api/agent/usage/check', {
    key: a.keys.agent, body: { user_id: 'alice', provider: 'openai', model: 'gpt-4o', input_tokens: 5, max_output_tokens: 10 },
  });
  await s.req('POST', '/api/agent/usage/report', {
    key: a.keys.agent,
    body: { idempotency_key: 'secret-call', user_id: 'alice', provider: 'openai', model: 'gpt-4o', usage: { prompt_tokens: 3, completion_tokens: 4 } },
  });
  const bt = b.keys.tenant_admin;
  for (const [method, path, body] of [
    ['GET', `/api/client/usage/limits/${limA.body.id}`],
    ['PUT', `/api/client/usage/limits/${limA.body.id}`, { scope: { level: 'tenant' }, metric: 'tokens', window: { unit: 'day' }, limit: 1 }],
    ['DELETE', `/api/client/usage/limits/${limA.body.id}`],
  ]) {
    const r = await s.req(method, path, { key: bt, body });
    assert.equal(r.status, 404, `${method} ${path}`);
    assert.ok(!JSON.stringify(r.body).includes('777'));
  }
  assert.ok(chkA.body.reservation_id);
  const rel = await s.req('POST', '/api/agent/usage/release', { key: b.keys.agent, body: { reservation_id: chkA.body.reservation_id } });
  assert.equal(rel.status, 404);
  // Limits a tenant admin writes always land in its own tenant.
  const forged = await s.req('POST', '/api/client/usage/limits', {
    key: bt, body: { scope: { level: 'tenant', tenant_id: 'acme' }, metric: 'tokens', window: { unit: 'day' }, limit: 1 },
  });
  assert.equal(forged.status, 404);
  const forgedGlobal = await s.req('POST', '/api/client/usage/limits', {
    key: bt, body: { scope: { level: 'global' }, metric: 'tokens', window: { unit: 'day' }, limit: 1 },
  });
  assert.equal(forgedGlobal.status, 403);
  // B's views hold nothing of A.
  for (const path of ['/api/client/usage/limits', '/api/client/usage/events', '/api/client/usage/export?format=jsonl',
    '/api/client/usage/history', '/api/client/usage/status']) {
    const r = await s.req('GET', path, { key: bt });
    assert.equal(r.status, 200, path);
    const text = typeof r.body === 'string' ? r.body : JSON.stringify(r.body);
    assert.ok(!text.includes('secret-call') && !text.includes('alice') && !text.includes(limA.body.id), `${path} leaks: ${text}`);
  }
  // Query parameters cannot widen a tenant key's view.
  const sneaky = await s.req('GET', '/api/client/usage/events?tenant_id=acme', { key: bt });
  assert.ok(sneaky.status === 404 || (sneaky.status === 200 && sneaky.body.events.length === 0));
  const sneakyStatus = await s.req('GET', '/api/agent/usage/status?tenant_id=acme&user_id=alice', { key: b.keys.agent });
  assert.ok(sneakyStatus.status === 404 || !JSON.stringify(sneakyStatus.body).includes('777'));
  // A client key bound to one user cannot act as another.
  const bound = await s.req('POST', '/api/admin/keys', { body: { role: 'client', tenant_id: 'acme', user_id: 'alice' } });
  assert.equal(bound.status, 201);
});
