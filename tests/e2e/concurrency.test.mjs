// 64 concurrent check + report pairs against one 10,000-token daily limit: `used` never
// passes 10,000, and as many calls as fit are admitted.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { startServer, setupTenant } from './lib/server.mjs';

test('concurrent calls never overshoot a limit and fill it', async (t) => {
  const s = await startServer(t);
  const { keys } = await setupTenant(s, 'acme');
  const lim = await s.req('POST', '/api/client/usage/limits', {
    key: keys.tenant_admin,
    body: { scope: { level: 'user', subject_id: 'alice' }, metric: 'tokens', window: { unit: 'day' }, limit: 10000 },
  });
  assert.equal(lim.status, 201);
  // Each call reserves 200 + 300 = 500 tokens and reports between 250 and 500.
  let admitted = 0;
  let reported = 0;
  const pair = async (i) => {
    const chk = await s.req('POST', '/api/agent/usage/check', {
      key: keys.agent,
      body: { user_id: 'alice', provider: 'openai', model: 'gpt-4o', input_tokens: 200, max_output_tokens: 300 },
    });
    assert.equal(chk.status, 200);
    if (!chk.body.allowed) return;
    admitted++;
    const out = 50 + ((i * 37) % 251);
    const rep = await s.req('POST', '/api/agent/usage/report', {
      key: keys.agent,
      body: {
        idempotency_key: `c-${i}`, reservation_id: chk.body.reservation_id, user_id: 'alice',
        provider: 'openai', model: 'gpt-4o', usage: { prompt_tokens: 200, completion_tokens: out },
      },
    });
    assert.equal(rep.status, 200, JSON.stringify(rep.body));
    reported += 200 + out;
    assert.ok(rep.body.limits[0].used <= 10000, `used ${rep.body.limits[0].used}`);
  };
  // Rounds of 64 concurrent pairs until the limit refuses a whole round.
  let round = 0;
  for (;;) {
    const before = admitted;
    await Promise.all(Array.from({ length: 64 }, (_, i) => pair(round * 64 + i)));
    round++;
    if (admitted === before || round > 100) break;
  }
  const st = await s.req('GET', '/api/agent/usage/status?user_id=alice', { key: keys.agent });
  const used = st.body.limits[0].used;
  assert.equal(used, reported);
  assert.ok(used <= 10000, `used ${used} > 10000`);
  // As many as fit: what is left is less than one call's reservation.
  assert.ok(10000 - used < 500, `only ${used} of 10000 used`);
  assert.equal(st.body.limits[0].reserved, 0);
  const ev = await s.req('GET', '/api/client/usage/events?limit=1000', { key: keys.tenant_admin });
  assert.equal(ev.body.events.length, admitted);
});
