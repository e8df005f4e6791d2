// Model policies through the gateway (SPEC section 6) with the official OpenAI SDK:
// downgrade once the daily budget is spent, blocked models replaced or refused, the rpm
// rate, a policy change seen by the next call, and /v1/models filtered by the policy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import { gateway, openai, events } from './lib/gateway.mjs';

const CLIENT = '/api/client/models/policies';
const CHAIN = ['openai:gpt-4o', 'openai:gpt-4o-mini'];

async function putPolicy(s, key, body, query = '') {
  const r = await s.req('PUT', `${CLIENT}${query}`, { key, body });
  assert.equal(r.status, 200, JSON.stringify(r.body));
}

// One call as alice; returns the parsed completion and the response headers.
async function call(client, model, content, extra = {}) {
  const { data, response } = await client.chat.completions
    .create({ model, messages: [{ role: 'user', content }], ...extra })
    .withResponse();
  return { data, headers: response.headers };
}

function alice(s, keys) {
  return openai(s, keys.agent, { defaultHeaders: { 'x-tollgate-user': 'alice' } });
}

test('gateway: once the daily tokens are used up the next call goes to the next model of the chain', async (t) => {
  const { s, fake, keys } = await gateway(t);
  await putPolicy(s, keys.tenant_admin, { limits: { daily_tokens: 1000 }, downgrade: CHAIN });
  const client = alice(s, keys);
  const first = await call(client, 'gpt-4o', 'spend [fake input=600 output=350]', { max_tokens: 10 });
  assert.equal(first.headers.get('x-tollgate-model'), 'gpt-4o');
  assert.equal(first.headers.get('x-tollgate-downgraded-from'), null);
  const second = await call(client, 'gpt-4o', 'again [fake input=10 output=5]', { max_tokens: 100 });
  assert.equal(second.headers.get('x-tollgate-model'), 'gpt-4o-mini');
  assert.equal(second.headers.get('x-tollgate-downgraded-from'), 'openai:gpt-4o');
  assert.equal(second.data.model, 'gpt-4o-mini', 'the provider was asked for the downgraded model');
  const sent = (await fake.requests()).filter((r) => r.target.endsWith('/chat/completions'));
  assert.equal(JSON.parse(sent.at(-1).body).model, 'gpt-4o-mini');
  const ev = await events(s, 2);
  const down = ev.find((e) => e.model_used === 'gpt-4o-mini');
  assert.equal(down.model, 'gpt-4o');
  assert.equal(down.decision, 'downgrade');
  assert.equal(down.user_id, 'alice');

  // With the chain exhausted the call is refused as a quota.
  await putPolicy(s, keys.tenant_admin, { limits: { daily_tokens: 1000 }, downgrade: ['openai:gpt-4o'] });
  await assert.rejects(call(client, 'gpt-4o', 'more'), (e) =>
    e instanceof OpenAI.PermissionDeniedError && e.code === 'downgrade_chain_exhausted');
});

test('gateway: a blocked model is replaced by the policy model, or refused when nothing replaces it', async (t) => {
  const { s, keys } = await gateway(t);
  const client = alice(s, keys);
  await putPolicy(s, keys.tenant_admin, { provider: 'openai', model: 'gpt-4o-mini', blocklist: ['openai:gpt-4o'] });
  const replaced = await call(client, 'gpt-4o', 'hi');
  assert.equal(replaced.headers.get('x-tollgate-model'), 'gpt-4o-mini');
  assert.equal(replaced.headers.get('x-tollgate-downgraded-from'), 'openai:gpt-4o');
  assert.equal(replaced.data.model, 'gpt-4o-mini');
  await putPolicy(s, keys.tenant_admin, { blocklist: ['openai:*'] });
  await assert.rejects(call(client, 'gpt-4o', 'hi'), (e) =>
    e instanceof OpenAI.PermissionDeniedError && e.code === 'model_not_allowed' && /blocklist/.test(e.message));
});

test('gateway: rate_limit_rpm answers 429 with Retry-After; max_tokens is clamped and temperature filled', async (t) => {
  const { s, fake, keys } = await gateway(t);
  await putPolicy(s, keys.tenant_admin, { limits: { rate_limit_rpm: 2 }, max_tokens: 50, temperature: 0.3 },
    '?level=user&user_id=alice');
  const client = alice(s, keys);
  await call(client, 'gpt-4o', 'one', { max_tokens: 4000 });
  await call(client, 'gpt-4o', 'two', { temperature: 1 });
  const sent = (await fake.requests()).filter((r) => r.target.endsWith('/chat/completions')).map((r) => JSON.parse(r.body));
  assert.equal(sent[0].max_tokens, 50);
  assert.equal(sent[0].temperature, 0.3);
  assert.equal(sent[1].temperature, 1);
  const res = await fetch(`${s.base}/v1/chat/completions`, {
    method: 'POST',
    headers: { authorization: `Bearer ${keys.agent}`, 'x-tollgate-user': 'alice', 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'three' }] }),
  });
  assert.equal(res.status, 429);
  const retry = Number(res.headers.get('retry-after'));
  assert.ok(retry >= 1 && retry <= 66, `Retry-After ${retry}`);
  await assert.rejects(call(client, 'gpt-4o', 'four'), (e) => e instanceof OpenAI.RateLimitError);
  // Bob has his own rate.
  const bob = openai(s, keys.agent, { defaultHeaders: { 'x-tollgate-user': 'bob' } });
  await call(bob, 'gpt-4o', 'hi');
});

test('gateway: a policy change takes effect on the next call', async (t) => {
  const { s, keys } = await gateway(t);
  const client = alice(s, keys);
  assert.equal((await call(client, 'gpt-4o', 'before')).headers.get('x-tollgate-model'), 'gpt-4o');
  await putPolicy(s, keys.tenant_admin, { blocklist: ['openai:gpt-4o'], model: 'gpt-4.1', provider: 'openai' });
  const after = await call(client, 'gpt-4o', 'after');
  assert.equal(after.headers.get('x-tollgate-model'), 'gpt-4.1');
  await putPolicy(s, keys.tenant_admin, {});
  assert.equal((await call(client, 'gpt-4o', 'cleared')).headers.get('x-tollgate-model'), 'gpt-4o');
});

test('gateway: /v1/models lists only the models the policy allows', async (t) => {
  const { s, keys } = await gateway(t);
  const client = alice(s, keys);
  const all = [];
  for await (const m of client.models.list()) all.push(m.id);
  assert.ok(all.includes('gpt-4o') && all.includes('gpt-3.5-turbo'), all.join());
  await putPolicy(s, keys.tenant_admin, { allowlist: ['openai:gpt-4o*'] });
  await putPolicy(s, keys.tenant_admin, { blocklist: ['openai:gpt-4o-mini'] }, '?level=user&user_id=alice');
  const allowed = [];
  for await (const m of client.models.list()) allowed.push(m.id);
  assert.deepEqual(allowed.sort(), all.filter((id) => id.startsWith('gpt-4o') && id !== 'gpt-4o-mini').sort());
  // Bob is not under alice's blocklist.
  const bob = [];
  for await (const m of openai(s, keys.agent, { defaultHeaders: { 'x-tollgate-user': 'bob' } }).models.list()) bob.push(m.id);
  assert.ok(bob.includes('gpt-4o-mini'));
});
