// What the gateway tests share: a tollgate in front of the fake provider, SDK clients
// pointed at it, and reads of the recorded usage.
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI } from '@google/genai';
import { startServer, setupTenant } from '../../e2e/lib/server.mjs';
import { startFake } from './fake.mjs';

export const PROVIDER_KEY = 'sk-provider-secret-0123456789';

// A tollgate in front of one fake provider serving all three formats.
export async function gateway(t, { env = {}, fakeArgs = [] } = {}) {
  const fake = await startFake(t, { apiKey: PROVIDER_KEY, args: fakeArgs });
  const s = await startServer(t, {
    env: {
      OPENAI_API_KEY: PROVIDER_KEY,
      ANTHROPIC_API_KEY: PROVIDER_KEY,
      GEMINI_API_KEY: PROVIDER_KEY,
      TOLLGATE_PROVIDERS_OPENAI_BASE_URL: `${fake.base}/v1`,
      TOLLGATE_PROVIDERS_ANTHROPIC_BASE_URL: fake.base,
      TOLLGATE_PROVIDERS_GEMINI_BASE_URL: fake.base,
      ...env,
    },
  });
  const { keys } = await setupTenant(s, 'acme');
  return { s, fake, keys };
}

export function openai(s, key, extra = {}) {
  return new OpenAI({ apiKey: key, baseURL: `${s.base}/v1`, maxRetries: 0, ...extra });
}
export function anthropic(s, key) {
  return new Anthropic({ apiKey: key, baseURL: s.base, maxRetries: 0 });
}
export function gemini(s, key) {
  return new GoogleGenAI({ apiKey: key, httpOptions: { baseUrl: s.base } });
}

// The tenant's events, newest first; waits until `n` are there (a stream's event is
// recorded just after its last byte is sent).
export async function events(s, n = 1, tenant = 'acme') {
  const deadline = Date.now() + 5000;
  for (;;) {
    const r = await s.req('GET', `/api/admin/usage/events?tenant_id=${tenant}&limit=100`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    if (r.body.events.length >= n || Date.now() > deadline) return r.body.events;
    await new Promise((res) => setTimeout(res, 20));
  }
}

export async function limitStatus(s, key) {
  const r = await s.req('GET', '/api/agent/usage/status', { key });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.limits;
}

