// Reports acknowledged before a kill -9 are all there after the restart, and the
// counters agree with the events.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Server, setupTenant } from './lib/server.mjs';

test('acknowledged reports survive kill -9', async (t) => {
  let s = await new Server().start();
  t.after(async () => { await s.stop(); s.cleanup(); });
  const { keys } = await setupTenant(s, 'acme');
  await s.req('POST', '/api/client/usage/limits', {
    key: keys.tenant_admin,
    body: { scope: { level: 'tenant' }, metric: 'tokens', window: { unit: 'month' }, limit: 1e12 },
  });
  await s.req('POST', '/api/client/usage/limits', {
    key: keys.tenant_admin,
    body: { scope: { level: 'user', subject_id: '*' }, metric: 'requests', window: { unit: 'day' }, limit: 1e9 },
  });
  const acked = new Set();
  let stop = false;
  const worker = async (w) => {
    for (let i = 0; !stop; i++) {
      const id = `w${w}-${i}`;
      try {
        const r = await s.req('POST', '/api/agent/usage/report', {
          key: keys.agent,
          body: { idempotency_key: id, user_id: `u${w}`, provider: 'openai', model: 'gpt-4o', usage: { prompt_tokens: 10, completion_tokens: w + 1 } },
        });
        if (r.status === 200) acked.add(id);
      } catch { return; }
    }
  };
  const workers = Array.from({ length: 16 }, (_, w) => worker(w));
  await new Promise((r) => setTimeout(r, 1500));
  await s.stop('SIGKILL');
  stop = true;
  await Promise.all(workers);
  assert.ok(acked.size > 50, `only ${acked.size} acknowledged`);

  s = await new Server({ dataDir: s.dataDir }).start();
  s.ownDir = true;
  const seen = new Set();
  let cursor = '';
  let tokens = 0;
  const perUser = {};
  for (;;) {
    const r = await s.req('GET', `/api/admin/usage/events?limit=1000${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
    for (const e of r.body.events) {
      seen.add(e.idempotency_key);
      tokens += e.total_tokens;
      perUser[e.user_id] = (perUser[e.user_id] ?? 0) + 1;
    }
    if (!r.body.next_cursor) break;
    cursor = r.body.next_cursor;
  }
  for (const id of acked) assert.ok(seen.has(id), `acknowledged ${id} lost`);
  const st = await s.req('GET', '/api/client/usage/status?tenant_id=acme');
  const tenantLimit = st.body.limits.find((l) => l.scope.level === 'tenant');
  assert.equal(tenantLimit.used, tokens);
  for (const [user, n] of Object.entries(perUser)) {
    const us = await s.req('GET', `/api/agent/usage/status?tenant_id=acme&user_id=${user}`);
    const reqLimit = us.body.limits.find((l) => l.metric === 'requests');
    assert.equal(reqLimit.used, n, `requests of ${user}`);
  }
});
