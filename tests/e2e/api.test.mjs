// Every route of the agent, tenant and admin APIs against a real tollgate process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, setupTenant } from './lib/server.mjs';

test('operations endpoints answer', async (t) => {
  const s = await startServer(t);
  assert.equal((await s.req('GET', '/healthz', { key: null })).status, 200);
  const ready = await s.req('GET', '/readyz', { key: null });
  assert.equal(ready.status, 200);
});

test('tenants: create, read, update, list, delete', async (t) => {
  const s = await startServer(t);
  const c = await s.req('POST', '/api/admin/tenants', {
    body: { id: 'acme', name: 'Acme', timezone: 'Europe/Berlin' },
  });
  assert.equal(c.status, 201);
  assert.equal(c.body.timezone, 'Europe/Berlin');
  assert.equal(c.body.mode, 'inherit');
  assert.equal((await s.req('POST', '/api/admin/tenants', { body: { id: 'acme' } })).status, 409);
  const g = await s.req('GET', '/api/admin/tenants/acme');
  assert.equal(g.body.name, 'Acme');
  const u = await s.req('PUT', '/api/admin/tenants/acme', { body: { name: 'Acme Inc', mode: 'shadow' } });
  assert.equal(u.status, 200);
  assert.equal(u.body.name, 'Acme Inc');
  assert.equal(u.body.mode, 'shadow');
  assert.equal(u.body.timezone, 'Europe/Berlin');
  const l = await s.req('GET', '/api/admin/tenants');
  assert.deepEqual(l.body.tenants.map((x) => x.id), ['acme']);
  assert.equal((await s.req('DELETE', '/api/admin/tenants/acme')).status, 200);
  assert.equal((await s.req('GET', '/api/admin/tenants/acme')).status, 404);
});

test('keys: the secret is shown once and works; deleted keys stop working', async (t) => {
  const s = await startServer(t);
  await s.req('POST', '/api/admin/tenants', { body: { id: 'acme' } });
  const k = await s.req('POST', '/api/admin/keys', { body: { role: 'agent', tenant_id: 'acme', name: 'bot' } });
  assert.equal(k.status, 201);
  assert.match(k.body.key, /^tg_/);
  assert.ok(k.body.id.startsWith('key_'));
  const list = await s.req('GET', '/api/admin/keys');
  const listed = list.body.keys.find((x) => x.id === k.body.id);
  assert.equal(listed.role, 'agent');
  assert.equal(listed.key, undefined);
  assert.ok(!JSON.stringify(list.body).includes(k.body.key));
  assert.equal((await s.req('GET', '/api/agent/usage/status?user_id=u1', { key: k.body.key })).status, 200);
  assert.equal((await s.req('DELETE', `/api/admin/keys/${k.body.id}`)).status, 200);
  assert.equal((await s.req('GET', '/api/agent/usage/status?user_id=u1', { key: k.body.key })).status, 401);
});

test('check reserves, report settles, status shows usage', async (t) => {
  const s = await startServer(t);
  const { keys } = await setupTenant(s, 'acme');
  const lim = await s.req('POST', '/api/client/usage/limits', {
    key: keys.tenant_admin,
    body: { scope: { level: 'user', subject_id: '*' }, metric: 'tokens', window: { unit: 'day' }, limit: 1000 },
  });
  assert.equal(lim.status, 201, JSON.stringify(lim.body));
  assert.equal(lim.body.scope.tenant_id, 'acme');
  assert.equal(lim.body.window.kind, 'calendar');

  const chk = await s.req('POST', '/api/agent/usage/check', {
    key: keys.agent,
    body: { user_id: 'alice', provider: 'openai', model: 'gpt-4o', input_tokens: 100, max_output_tokens: 200 },
  });
  assert.equal(chk.status, 200);
  assert.equal(chk.body.allowed, true);
  assert.equal(chk.body.decision, 'allow');
  assert.ok(chk.body.reservation_id);
  assert.equal(chk.body.limits[0].reserved, 300);
  assert.equal(chk.body.limits[0].remaining, 700);

  const rep = await s.req('POST', '/api/agent/usage/report', {
    key: keys.agent,
    body: {
      idempotency_key: 'call-1', reservation_id: chk.body.reservation_id, user_id: 'alice',
      provider: 'openai', model: 'gpt-4o',
      usage: { prompt_tokens: 100, completion_tokens: 150, total_tokens: 250 }, latency_ms: 42,
    },
  });
  assert.equal(rep.status, 200, JSON.stringify(rep.body));
  assert.equal(rep.body.duplicate, false);
  assert.ok(rep.body.event_id.startsWith('evt_'));
  assert.ok(rep.body.cost_usd > 0);
  assert.equal(rep.body.limits[0].used, 250);
  assert.equal(rep.body.limits[0].reserved, 0);

  const again = await s.req('POST', '/api/agent/usage/report', {
    key: keys.agent,
    body: {
      idempotency_key: 'call-1', user_id: 'alice', provider: 'openai', model: 'gpt-4o',
      usage: { prompt_tokens: 100, completion_tokens: 150, total_tokens: 250 },
    },
  });
  assert.equal(again.body.duplicate, true);
  assert.equal(again.body.event_id, rep.body.event_id);

  const st = await s.req('GET', '/api/agent/usage/status?user_id=alice', { key: keys.agent });
  assert.equal(st.body.tenant_id, 'acme');
  assert.equal(st.body.user_id, 'alice');
  assert.equal(st.body.limits[0].used, 250);
  // Bob has his own counter from the same default.
  const bob = await s.req('GET', '/api/agent/usage/status?user_id=bob', { key: keys.agent });
  assert.equal(bob.body.limits[0].used, 0);

  const deny = await s.req('POST', '/api/agent/usage/check', {
    key: keys.agent,
    body: { user_id: 'alice', provider: 'openai', model: 'gpt-4o', input_tokens: 500, max_output_tokens: 300 },
  });
  assert.equal(deny.status, 200);
  assert.equal(deny.body.allowed, false);
  assert.equal(deny.body.decision, 'deny');
  assert.match(deny.body.reason, /alice/);
  assert.ok(deny.body.retry_after_s > 0);
});

test('release frees a reservation', async (t) => {
  const s = await startServer(t);
  const { keys } = await setupTenant(s, 'acme');
  await s.req('POST', '/api/client/usage/limits', {
    key: keys.tenant_admin,
    body: { scope: { level: 'tenant' }, metric: 'tokens', window: { unit: 'hour' }, limit: 500 },
  });
  const chk = await s.req('POST', '/api/agent/usage/check', {
    key: keys.agent,
    body: { user_id: 'u', provider: 'openai', model: 'gpt-4o', input_tokens: 100, max_output_tokens: 300 },
  });
  assert.equal(chk.body.limits[0].reserved, 400);
  const rel = await s.req('POST', '/api/agent/usage/release', { key: keys.agent, body: { reservation_id: chk.body.reservation_id } });
  assert.equal(rel.status, 200);
  const st = await s.req('GET', '/api/agent/usage/status', { key: keys.agent });
  assert.equal(st.body.limits[0].reserved, 0);
  const again = await s.req('POST', '/api/agent/usage/release', { key: keys.agent, body: { reservation_id: chk.body.reservation_id } });
  assert.equal(again.status, 404);
});

test('shadow mode records but never blocks', async (t) => {
  const s = await startServer(t);
  const { keys } = await setupTenant(s, 'acme', { mode: 'shadow' });
  await s.req('POST', '/api/client/usage/limits', {
    key: keys.tenant_admin,
    body: { scope: { level: 'tenant' }, metric: 'requests', window: { unit: 'day' }, limit: 0 },
  });
  const chk = await s.req('POST', '/api/agent/usage/check', {
    key: keys.agent, body: { user_id: 'u', provider: 'openai', model: 'gpt-4o', input_tokens: 1 },
  });
  assert.equal(chk.body.allowed, true);
  assert.equal(chk.body.decision, 'shadow_deny');
});

test('tenant limits CRUD, events, history and export', async (t) => {
  const s = await startServer(t);
  const { keys } = await setupTenant(s, 'acme');
  const ta = keys.tenant_admin;
  const c = await s.req('POST', '/api/client/usage/limits', {
    key: ta, body: { scope: { level: 'agent', subject_id: 'rag' }, metric: 'cost_usd', window: { unit: 'month' }, limit: 12.5 },
  });
  assert.equal(c.status, 201, JSON.stringify(c.body));
  assert.equal(c.body.limit, 12.5);
  const id = c.body.id;
  assert.equal((await s.req('GET', `/api/client/usage/limits/${id}`, { key: ta })).body.metric, 'cost_usd');
  const u = await s.req('PUT', `/api/client/usage/limits/${id}`, {
    key: ta, body: { scope: { level: 'agent', subject_id: 'rag' }, metric: 'cost_usd', window: { unit: 'month' }, limit: 20 },
  });
  assert.equal(u.status, 200, JSON.stringify(u.body));
  assert.equal(u.body.limit, 20);
  assert.equal((await s.req('GET', '/api/client/usage/limits', { key: ta })).body.limits.length, 1);

  for (let i = 0; i < 5; i++) {
    const r = await s.req('POST', '/api/agent/usage/report', {
      key: keys.agent,
      body: {
        idempotency_key: `k${i}`, user_id: i % 2 ? 'alice' : 'bob', agent: 'rag', provider: 'anthropic',
        model: 'claude-3-5-haiku-20241022', usage: { input_tokens: 10, output_tokens: 20 },
      },
    });
    assert.equal(r.status, 200, JSON.stringify(r.body));
  }
  const ev = await s.req('GET', '/api/client/usage/events?limit=2', { key: ta });
  assert.equal(ev.status, 200);
  assert.equal(ev.body.events.length, 2);
  assert.ok(ev.body.next_cursor);
  const ev2 = await s.req('GET', `/api/client/usage/events?limit=10&cursor=${encodeURIComponent(ev.body.next_cursor)}`, { key: ta });
  assert.equal(ev2.body.events.length, 3);
  const alice = await s.req('GET', '/api/client/usage/events?user_id=alice', { key: ta });
  assert.equal(alice.body.events.length, 2);
  assert.equal(alice.body.events[0].total_tokens, 30);

  const h = await s.req('GET', '/api/client/usage/history?granularity=day&group_by=user', { key: ta });
  assert.equal(h.status, 200, JSON.stringify(h.body));
  const bobRow = h.body.series.find((x) => x.group === 'bob');
  assert.equal(bobRow.total_tokens, 90);
  assert.equal(bobRow.requests, 3);

  const csv = await s.req('GET', '/api/client/usage/export?format=csv', { key: ta });
  assert.equal(csv.status, 200);
  const lines = csv.body.trim().split('\n');
  assert.equal(lines.length, 6);
  assert.match(lines[0], /^event_id,ts,tenant_id,user_id/);
  const jsonl = await s.req('GET', '/api/client/usage/export?format=jsonl&user_id=alice', { key: ta });
  const rows = jsonl.body.trim().split('\n').map((x) => JSON.parse(x));
  assert.equal(rows.length, 2);

  const st = await s.req('GET', '/api/client/usage/status', { key: ta });
  assert.equal(st.status, 200);
  assert.equal(st.body.tenant_id, 'acme');
  assert.equal(st.body.top_users[0].user_id, 'bob');

  assert.equal((await s.req('DELETE', `/api/client/usage/limits/${id}`, { key: ta })).status, 200);
  assert.equal((await s.req('GET', `/api/client/usage/limits/${id}`, { key: ta })).status, 404);
});

test('admin usage summary, events and prices', async (t) => {
  const s = await startServer(t);
  const { keys } = await setupTenant(s, 'acme');
  await s.req('POST', '/api/agent/usage/report', {
    key: keys.agent,
    body: {
      idempotency_key: 'x', user_id: 'alice', provider: 'gemini', model: 'gemini-2.0-flash',
      usage: { promptTokenCount: 7, candidatesTokenCount: 5, totalTokenCount: 12 },
    },
  });
  const sum = await s.req('GET', '/api/admin/usage/summary?days=7&tenant_id=acme');
  assert.equal(sum.status, 200, JSON.stringify(sum.body));
  assert.equal(sum.body.totals.total_tokens, 12);
  assert.equal(sum.body.totals.requests, 1);
  assert.equal(sum.body.daily.length, 7);
  assert.equal(sum.body.daily[6].prompt_tokens, 7);
  assert.equal(sum.body.daily[0].prompt_tokens, 0);
  assert.equal(sum.body.by_model[0].model, 'gemini-2.0-flash');
  assert.equal(sum.body.by_provider[0].provider, 'gemini');
  const ev = await s.req('GET', '/api/admin/usage/events');
  assert.equal(ev.body.events.length, 1);

  const prices = await s.req('GET', '/api/admin/prices');
  assert.equal(prices.status, 200);
  assert.ok(prices.body.prices.length > 20);
  const put = await s.req('PUT', '/api/admin/prices/openai:my-model', {
    body: { input_per_mtok: '1.25', output_per_mtok: 5, tier: 'economy' },
  });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  const r = await s.req('POST', '/api/agent/usage/report', {
    key: keys.agent,
    body: {
      idempotency_key: 'y', user_id: 'alice', provider: 'openai', model: 'my-model',
      usage: { prompt_tokens: 1000000, completion_tokens: 1000000 },
    },
  });
  assert.equal(r.body.cost_usd, 6.25);
});

test('check counts text and chat messages when input_tokens is absent', async (t) => {
  const s = await startServer(t);
  const { keys } = await setupTenant(s, 'acme');
  const text = await s.req('POST', '/api/agent/usage/check', {
    key: keys.agent,
    body: { user_id: 'u', provider: 'openai', model: 'gpt-4o', text: 'hello world', max_output_tokens: 10 },
  });
  assert.equal(text.status, 200, JSON.stringify(text.body));
  assert.equal(text.body.input_tokens, 2);
  assert.equal(text.body.encoding, 'o200k_base');
  assert.equal(text.body.estimated, false);
  // OpenAI's published example: these two messages are 3+3 per message, their values,
  // and 3 for reply priming.
  const chat = await s.req('POST', '/api/utils/token_counter', {
    key: keys.agent,
    body: { model: 'gpt-4', messages: [{ role: 'system', content: 'You are a helpful assistant.' }, { role: 'user', content: 'Hello!' }] },
  });
  assert.equal(chat.status, 200, JSON.stringify(chat.body));
  assert.equal(chat.body.encoding, 'cl100k_base');
  assert.equal(chat.body.tokens, 3 + 1 + 6 + 3 + 1 + 2 + 3);
  const claude = await s.req('POST', '/api/utils/token_counter', {
    key: keys.agent, body: { model: 'claude-3-5-haiku-20241022', text: 'hello world' },
  });
  assert.equal(claude.body.estimated, true);
  const unknown = await s.req('POST', '/api/agent/usage/check', {
    key: keys.agent, body: { user_id: 'u', provider: 'acme-ai', model: 'mystery', text: 'x' },
  });
  assert.equal(unknown.status, 400);
  assert.match(unknown.body.error.message, /model/);
});
