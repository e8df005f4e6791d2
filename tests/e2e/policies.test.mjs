// Model policies (SPEC sections 6 and 7) against a real tollgate process: CRUD, access,
// resolve with its trace, and the check API's downgrade and denials.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Server, startServer, setupTenant } from './lib/server.mjs';

const ADMIN = '/api/admin/models/policies';
const CLIENT = '/api/client/models/policies';
const CHAIN = ['openai:gpt-4o', 'openai:gpt-4o-mini'];

async function check(s, key, body) {
  const r = await s.req('POST', '/api/agent/usage/check', {
    key, body: { provider: 'openai', model: 'gpt-4o', input_tokens: 100, max_output_tokens: 100, ...body },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

async function report(s, key, body) {
  const r = await s.req('POST', '/api/agent/usage/report', { key, body: { provider: 'openai', model: 'gpt-4o', ...body } });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

test('policies: put, get, list, owned limits, clear with {}', async (t) => {
  const s = await startServer(t);
  await setupTenant(s, 'acme');
  const doc = {
    provider: 'openai', model: 'gpt-4o', temperature: 0.7, max_tokens: 2048, tier: 'premium',
    limits: { daily_tokens: 500000, max_context: 128000, rate_limit_rpm: 30, rate_limit_tpm: 200000 },
    allowlist: ['openai:gpt-4o*', 'anthropic:claude-*'], blocklist: ['openai:gpt-3.5-turbo'],
    downgrade: ['openai:gpt-4o', 'openai:gpt-4o-mini', 'anthropic:claude-3-haiku-20240307'],
  };
  const put = await s.req('PUT', `${ADMIN}?level=global`, { body: doc });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  assert.deepEqual(put.body.policy, doc);
  assert.equal(put.body.level, 'global');
  assert.equal(put.body.limits.length, 3);
  const daily = put.body.limits.find((l) => l.metric === 'tokens' && l.window.unit === 'day');
  assert.equal(daily.action, 'downgrade');
  assert.equal(daily.owner, 'policy:global');
  assert.deepEqual(daily.scope, { level: 'user', tenant_id: '*', subject_id: '*' });
  assert.deepEqual(daily.models, ['openai:gpt-4o', 'openai:gpt-4o-mini']);
  const rpm = put.body.limits.find((l) => l.metric === 'requests');
  assert.equal(rpm.window.unit, 'minute');
  assert.equal(rpm.window.kind, 'rolling');
  assert.equal(rpm.action, 'deny');

  // Owned limits are listed with the others but changed only through the policy.
  const all = await s.req('GET', '/api/admin/limits');
  assert.ok(all.body.limits.some((l) => l.id === daily.id));
  const edit = await s.req('PUT', `/api/admin/limits/${daily.id}`, {
    body: { scope: { level: 'user', tenant_id: '*', subject_id: '*' }, metric: 'tokens', window: { unit: 'day' }, limit: 1 },
  });
  assert.equal(edit.status, 409);
  assert.equal((await s.req('DELETE', `/api/admin/limits/${daily.id}`)).status, 409);

  // Rewriting the policy keeps the limit's id (and its counters).
  const again = await s.req('PUT', `${ADMIN}?level=global`, { body: { ...doc, limits: { daily_tokens: 1000 } } });
  assert.equal(again.body.limits.length, 1);
  assert.equal(again.body.limits[0].id, daily.id);
  assert.equal(again.body.limits[0].limit, 1000);

  const ten = await s.req('PUT', `${ADMIN}?level=tenant&tenant_id=acme`, { body: { max_tokens: 512 } });
  assert.equal(ten.status, 200);
  const usr = await s.req('PUT', `${ADMIN}?level=user&tenant_id=acme&user_id=alice`, { body: { temperature: 0.1 } });
  assert.equal(usr.status, 200);
  const one = await s.req('GET', `${ADMIN}?level=user&tenant_id=acme&user_id=alice`);
  assert.deepEqual(one.body.policy, { temperature: 0.1 });
  const list = await s.req('GET', ADMIN);
  assert.deepEqual(list.body.policies.map((p) => p.level), ['global', 'tenant', 'user']);
  const acmeOnly = await s.req('GET', `${ADMIN}?tenant_id=acme`);
  assert.deepEqual(acmeOnly.body.policies.map((p) => p.level), ['tenant', 'user']);

  const cleared = await s.req('PUT', `${ADMIN}?level=global`, { body: {} });
  assert.equal(cleared.status, 200);
  assert.equal(cleared.body.deleted, true);
  assert.equal(cleared.body.policy, null);
  assert.deepEqual(cleared.body.limits, []);
  assert.equal((await s.req('GET', `/api/admin/limits/${daily.id}`)).status, 404);
  assert.equal((await s.req('GET', `${ADMIN}?level=global`)).body.policy, null);
});

test('policies: a tenant admin manages its tenant and users, never global or another tenant', async (t) => {
  const s = await startServer(t);
  const acme = await setupTenant(s, 'acme');
  await setupTenant(s, 'beta');
  const ta = acme.keys.tenant_admin;
  assert.equal((await s.req('PUT', CLIENT, { key: ta, body: { max_tokens: 100 } })).status, 200);
  const u = await s.req('PUT', `${CLIENT}?level=user&user_id=alice`, { key: ta, body: { temperature: 0 } });
  assert.equal(u.status, 200);
  assert.equal(u.body.tenant_id, 'acme');
  const mine = await s.req('GET', CLIENT, { key: ta });
  assert.deepEqual(mine.body.policies.map((p) => [p.level, p.user_id]), [['tenant', null], ['user', 'alice']]);
  assert.equal((await s.req('PUT', `${CLIENT}?level=global`, { key: ta, body: {} })).status, 403);
  assert.equal((await s.req('GET', `${CLIENT}?level=global`, { key: ta })).status, 403);
  assert.equal((await s.req('PUT', `${CLIENT}?tenant_id=beta`, { key: ta, body: { max_tokens: 1 } })).status, 404);
  assert.equal((await s.req('GET', `${CLIENT}?tenant_id=beta`, { key: ta })).status, 404);
  assert.equal((await s.req('PUT', `${ADMIN}?level=global`, { key: ta, body: {} })).status, 403);
  assert.equal((await s.req('GET', ADMIN, { key: ta })).status, 403);
  assert.equal((await s.req('POST', `${ADMIN}/resolve`, { key: ta, body: { model: 'openai:gpt-4o' } })).status, 403);
  assert.equal((await s.req('GET', '/api/admin/models/available', { key: ta })).status, 403);
  assert.equal((await s.req('GET', CLIENT, { key: acme.keys.agent })).status, 403);
  assert.equal((await s.req('GET', CLIENT, { key: null })).status, 401);
  // beta sees none of acme's policies; an admin uses the tenant route with tenant_id.
  const adminView = await s.req('GET', `${CLIENT}?tenant_id=beta`);
  assert.deepEqual(adminView.body.policies, []);
});

test('policies: resolve explains which level set each field and why the model changed', async (t) => {
  const s = await startServer(t);
  await setupTenant(s, 'acme');
  await s.req('PUT', `${ADMIN}?level=global`, {
    body: { provider: 'openai', model: 'gpt-4o-mini', temperature: 0.2, allowlist: ['openai:*'], downgrade: CHAIN },
  });
  await s.req('PUT', `${ADMIN}?level=tenant&tenant_id=acme`, {
    body: { temperature: 0.5, max_tokens: 1000, blocklist: ['openai:gpt-4o'] },
  });
  await s.req('PUT', `${ADMIN}?level=user&tenant_id=acme&user_id=alice`, { body: { limits: { max_context: 5000 } } });
  const r = await s.req('POST', `${ADMIN}/resolve`, {
    body: { tenant_id: 'acme', user_id: 'alice', model: 'openai:gpt-4o', input_tokens: 100, max_tokens: 4000 },
  });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  assert.equal(r.body.decision, 'downgrade');
  assert.equal(r.body.model, 'gpt-4o-mini');
  assert.equal(r.body.downgraded_from, 'openai:gpt-4o');
  assert.equal(r.body.max_tokens, 1000);
  assert.equal(r.body.max_tokens_clamped, true);
  assert.equal(r.body.temperature, 0.5);
  assert.equal(r.body.temperature_defaulted, true);
  const by = Object.fromEntries(r.body.trace.map((e) => [e.field, e.level]));
  assert.deepEqual(by, {
    model: 'global', temperature: 'tenant', max_tokens: 'tenant', 'limits.max_context': 'user',
    allowlist: 'global', blocklist: 'tenant', downgrade: 'global',
  });
  assert.equal(r.body.changes.length, 1);
  assert.match(r.body.changes[0].why, /blocked by the tenant blocklist/);
  assert.deepEqual(r.body.policy.blocklist, ['openai:gpt-4o']);

  const big = await s.req('POST', `${ADMIN}/resolve`, {
    body: { tenant_id: 'acme', user_id: 'alice', provider: 'openai', model: 'gpt-4o-mini', input_tokens: 6000 },
  });
  assert.equal(big.body.decision, 'deny');
  assert.equal(big.body.code, 'context_too_large');
  // Bob has no user policy: no max_context.
  const bob = await s.req('POST', `${ADMIN}/resolve`, {
    body: { tenant_id: 'acme', user_id: 'bob', model: 'openai:gpt-4o-mini', input_tokens: 6000 },
  });
  assert.equal(bob.body.decision, 'allow');

  // Available models: the allowlist (openai only) minus the blocklist, with tier and price.
  const av = await s.req('GET', '/api/admin/models/available?tenant_id=acme&user_id=alice');
  assert.equal(av.status, 200);
  const ids = av.body.models.map((m) => m.id);
  assert.ok(ids.includes('openai:gpt-4o-mini'));
  assert.ok(!ids.includes('openai:gpt-4o'));
  assert.ok(ids.every((id) => id.startsWith('openai:')));
  assert.equal(av.body.models.find((m) => m.id === 'openai:gpt-4o-mini').tier, 'economy');
});

test('check: downgrades once the daily tokens are used up, and the event keeps both models', async (t) => {
  const s = await startServer(t);
  const { keys } = await setupTenant(s, 'acme');
  const put = await s.req('PUT', CLIENT, { key: keys.tenant_admin, body: { limits: { daily_tokens: 1000 }, downgrade: CHAIN } });
  assert.equal(put.status, 200, JSON.stringify(put.body));
  const first = await check(s, keys.agent, { user_id: 'alice' });
  assert.equal(first.decision, 'allow');
  assert.equal(first.model, 'gpt-4o');
  await report(s, keys.agent, {
    user_id: 'alice', idempotency_key: 'k1', reservation_id: first.reservation_id,
    usage: { prompt_tokens: 600, completion_tokens: 350 },
  });
  const second = await check(s, keys.agent, { user_id: 'alice' });
  assert.equal(second.allowed, true);
  assert.equal(second.decision, 'downgrade');
  assert.equal(second.model, 'gpt-4o-mini');
  assert.equal(second.provider, 'openai');
  assert.equal(second.downgraded_from, 'openai:gpt-4o');
  assert.ok(second.reservation_id);
  await report(s, keys.agent, {
    user_id: 'alice', idempotency_key: 'k2', reservation_id: second.reservation_id,
    usage: { prompt_tokens: 100, completion_tokens: 10 },
  });
  const ev = await s.req('GET', '/api/client/usage/events?user_id=alice', { key: keys.tenant_admin });
  const e = ev.body.events.find((x) => x.idempotency_key === 'k2') ?? ev.body.events[0];
  assert.equal(e.model, 'gpt-4o');
  assert.equal(e.model_used, 'gpt-4o-mini');
  assert.equal(e.decision, 'downgrade');
  // Bob has his own budget.
  assert.equal((await check(s, keys.agent, { user_id: 'bob' })).decision, 'allow');
  // The floor of the chain is exhausted too once the budget covers it: nothing left.
  await s.req('PUT', CLIENT, { key: keys.tenant_admin, body: { limits: { daily_tokens: 1000 }, downgrade: ['openai:gpt-4o'] } });
  const none = await check(s, keys.agent, { user_id: 'alice' });
  assert.equal(none.allowed, false);
  assert.equal(none.code, 'downgrade_chain_exhausted');
});

test('check: a blocked model is replaced, or refused when nothing replaces it', async (t) => {
  const s = await startServer(t);
  const { keys } = await setupTenant(s, 'acme');
  await s.req('PUT', CLIENT, { key: keys.tenant_admin, body: { provider: 'openai', model: 'gpt-4o-mini', blocklist: ['openai:gpt-4o'] } });
  const replaced = await check(s, keys.agent, { user_id: 'alice' });
  assert.equal(replaced.decision, 'downgrade');
  assert.equal(replaced.model, 'gpt-4o-mini');
  assert.equal(replaced.downgraded_from, 'openai:gpt-4o');
  await s.req('PUT', CLIENT, { key: keys.tenant_admin, body: { blocklist: ['openai:*'] } });
  const refused = await check(s, keys.agent, { user_id: 'alice' });
  assert.equal(refused.allowed, false);
  assert.equal(refused.decision, 'deny');
  assert.equal(refused.code, 'model_not_allowed');
  assert.match(refused.reason, /blocked by the tenant blocklist/);
  assert.equal(refused.reservation_id, null);
});

test('check: rate_limit_rpm denies with retry_after_s; max_tokens clamps; temperature defaults', async (t) => {
  const s = await startServer(t);
  const { keys } = await setupTenant(s, 'acme');
  await s.req('PUT', `${CLIENT}?level=user&user_id=alice`, {
    key: keys.tenant_admin, body: { limits: { rate_limit_rpm: 2 }, max_tokens: 50, temperature: 0.3 },
  });
  const a = await check(s, keys.agent, { user_id: 'alice', max_output_tokens: 4000 });
  assert.equal(a.allowed, true);
  assert.equal(a.max_output_tokens, 50);
  assert.equal(a.temperature, 0.3);
  assert.equal((await check(s, keys.agent, { user_id: 'alice', temperature: 1 })).temperature, 1);
  const c = await check(s, keys.agent, { user_id: 'alice' });
  assert.equal(c.allowed, false);
  assert.equal(c.decision, 'deny');
  assert.ok(c.retry_after_s >= 1 && c.retry_after_s <= 66, JSON.stringify(c));
  assert.equal((await check(s, keys.agent, { user_id: 'bob' })).allowed, true);
});

test('check: a policy change is seen by the very next check; no policy changes nothing', async (t) => {
  const s = await startServer(t);
  const { keys } = await setupTenant(s, 'acme');
  const before = await check(s, keys.agent, { user_id: 'alice' });
  assert.equal(before.decision, 'allow');
  assert.equal(before.downgraded_from, undefined);
  assert.equal(before.provider, undefined);
  await s.req('PUT', `${ADMIN}?level=global`, { body: { limits: { max_context: 50 } } });
  const denied = await check(s, keys.agent, { user_id: 'alice' });
  assert.equal(denied.allowed, false);
  assert.equal(denied.code, 'context_too_large');
  await s.req('PUT', `${ADMIN}?level=global`, { body: { limits: { max_context: 500 } } });
  assert.equal((await check(s, keys.agent, { user_id: 'alice' })).allowed, true);
  await s.req('PUT', `${ADMIN}?level=global`, { body: {} });
  const after = await check(s, keys.agent, { user_id: 'alice', input_tokens: 100000 });
  assert.equal(after.allowed, true);
  assert.equal(after.provider, undefined);
});

test('policies: policies survive a restart', async (t) => {
  const first = await startServer(t);
  const { keys } = await setupTenant(first, 'acme');
  await first.req('PUT', CLIENT, { key: keys.tenant_admin, body: { blocklist: ['openai:*'] } });
  await first.stop();
  const s = await new Server({ dataDir: first.dataDir }).start();
  t.after(() => s.stop());
  const r = await check(s, keys.agent, { user_id: 'alice' });
  assert.equal(r.code, 'model_not_allowed');
  assert.deepEqual((await s.req('GET', CLIENT, { key: keys.tenant_admin })).body.policies[0].policy, { blocklist: ['openai:*'] });
});

test('policies: bad input answers 400 naming the field, and stores nothing', async (t) => {
  const s = await startServer(t);
  await setupTenant(s, 'acme');
  const bad = [
    [{ colour: 'red' }, /unknown field 'colour'/],
    [{ temperature: '0.5' }, /temperature/],
    [{ temperature: 3 }, /temperature/],
    [{ max_tokens: -1 }, /max_tokens/],
    [{ max_tokens: 0 }, /max_tokens/],
    [{ max_tokens: 1.5 }, /max_tokens/],
    [{ tier: 'gold' }, /tier/],
    [{ provider: 'openai' }, /model/],
    [{ model: 'gpt-4o' }, /provider/],
    [{ provider: 'openai', model: 'gpt-*' }, /model/],
    [{ allowlist: 'openai:*' }, /allowlist/],
    [{ allowlist: ['gpt-4o'] }, /allowlist/],
    [{ blocklist: [42] }, /blocklist/],
    [{ downgrade: ['openai:gpt-4o*'] }, /downgrade/],
    [{ downgrade: ['openai:a', 'openai:a'] }, /downgrade/],
    [{ limits: { daily_tokens: -5 } }, /limits.daily_tokens/],
    [{ limits: { max_context: 0 } }, /limits.max_context/],
    [{ limits: { weekly_tokens: 5 } }, /weekly_tokens/],
    [{ limits: [] }, /limits/],
  ];
  for (const [body, re] of bad) {
    const r = await s.req('PUT', `${ADMIN}?level=global`, { body });
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.match(r.body.error.message, re, JSON.stringify(body));
  }
  assert.equal((await s.req('PUT', `${ADMIN}?level=global`, { raw: '{"max_tokens": ', headers: { 'content-type': 'application/json' } })).status, 400);
  assert.equal((await s.req('PUT', `${ADMIN}?level=global`, { raw: '[]', headers: { 'content-type': 'application/json' } })).status, 400);
  assert.equal((await s.req('PUT', ADMIN, { body: {} })).status, 400);
  assert.equal((await s.req('PUT', `${ADMIN}?level=planet`, { body: {} })).status, 400);
  assert.equal((await s.req('PUT', `${ADMIN}?level=agent&tenant_id=acme`, { body: {} })).status, 400);
  assert.equal((await s.req('PUT', `${ADMIN}?level=global&tenant_id=acme`, { body: {} })).status, 400);
  assert.equal((await s.req('PUT', `${ADMIN}?level=tenant`, { body: {} })).status, 400);
  assert.equal((await s.req('PUT', `${ADMIN}?level=user&tenant_id=acme`, { body: {} })).status, 400);
  assert.equal((await s.req('PUT', `${ADMIN}?level=tenant&tenant_id=a%20b`, { body: {} })).status, 400);
  assert.equal((await s.req('PUT', `${ADMIN}?level=tenant&tenant_id=nope`, { body: { max_tokens: 1 } })).status, 404);
  assert.equal((await s.req('GET', `${ADMIN}?tenant_id=nope`)).status, 404);
  assert.deepEqual((await s.req('GET', ADMIN)).body.policies, []);

  const resolveBad = [
    [{}, /model/],
    [{ model: 'gpt-4o' }, /model/],
    [{ model: 'openai:gpt-4o', input_tokens: -1 }, /input_tokens/],
    [{ model: 'openai:gpt-4o', tenant_id: 'nope' }, null],
    [{ model: 'openai:gpt-4o', user_id: 'alice' }, /tenant_id/],
    [{ model: 'openai:gpt-4o', extra: 1 }, /unknown field 'extra'/],
  ];
  for (const [body, re] of resolveBad) {
    const r = await s.req('POST', `${ADMIN}/resolve`, { body });
    if (re === null) { assert.equal(r.status, 404); continue; }
    assert.equal(r.status, 400, JSON.stringify(body));
    assert.match(r.body.error.message, re);
  }
  assert.equal((await s.req('GET', '/api/admin/models/available?user_id=alice')).status, 400);
  assert.equal((await s.req('GET', '/api/admin/models/available?tenant_id=nope')).status, 404);
  assert.equal((await s.req('POST', '/api/agent/usage/check', {
    body: { tenant_id: 'acme', user_id: 'a', provider: 'openai', model: 'gpt-4o', input_tokens: 1, temperature: 'hot' },
  })).status, 400);
});
