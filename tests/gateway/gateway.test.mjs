// The gateway end to end (SPEC sections 1, 5, 7): the official OpenAI, Anthropic and
// Gemini SDKs pointed at a real `tollgate serve`, which forwards to the fake provider.
// What the SDKs receive must be what the provider sent, and the recorded events must
// carry exactly the provider's usage numbers.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import {
  PROVIDER_KEY, gateway, openai, anthropic, gemini, events, limitStatus,
} from './lib/gateway.mjs';

async function addLimit(s, body) {
  const r = await s.req('POST', '/api/admin/limits', { body });
  assert.equal(r.status, 201, JSON.stringify(r.body));
  return r.body;
}

const usageOf = (e) => ({
  input: e.input_tokens, output: e.output_tokens, cached: e.cached_input_tokens, reasoning: e.reasoning_tokens,
});

test('openai: chat completion, plain and streamed, metered with the provider usage', async (t) => {
  const { s, fake, keys } = await gateway(t);
  const client = openai(s, keys.client);
  const plain = await client.chat.completions.create({
    model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'Hello [fake input=123 output=7 cached=20]' }],
  });
  assert.equal(plain.model, 'gpt-4o-mini');
  assert.equal(plain.usage.prompt_tokens, 123);
  assert.equal(plain.usage.completion_tokens, 7);
  assert.equal(plain.choices[0].message.content.split(' ').length, 7);

  const stream = await client.chat.completions.create({
    model: 'gpt-4o', stream: true, stream_options: { include_usage: true },
    messages: [{ role: 'user', content: 'Stream it [fake input=55 output=12 reasoning=3]' }],
  });
  let text = '';
  let usage = null;
  for await (const chunk of stream) {
    text += chunk.choices[0]?.delta?.content ?? '';
    if (chunk.usage) usage = chunk.usage;
  }
  assert.equal(text.trim().split(/\s+/).length, 9, 'reasoning tokens are not text');
  assert.equal(usage.prompt_tokens, 55);
  assert.equal(usage.completion_tokens, 12);

  const ev = await events(s, 2);
  const byModel = Object.fromEntries(ev.map((e) => [e.model, e]));
  assert.deepEqual(usageOf(byModel['gpt-4o-mini']), { input: 123, output: 7, cached: 20, reasoning: 0 });
  assert.deepEqual(usageOf(byModel['gpt-4o']), { input: 55, output: 12, cached: 0, reasoning: 3 });
  for (const e of ev) {
    assert.equal(e.provider, 'openai');
    assert.equal(e.status, 'ok');
    assert.equal(e.estimated, false);
    assert.equal(e.endpoint, '/v1/chat/completions');
  }

  // The provider saw its own key, never the caller's.
  const seen = await fake.requests();
  const chat = seen.filter((r) => r.target.endsWith('/chat/completions'));
  assert.equal(chat.length, 2);
  for (const r of chat) {
    assert.equal(r.headers.authorization, `Bearer ${PROVIDER_KEY}`);
    assert.ok(!JSON.stringify(r.headers).includes(keys.client));
  }
});

test('openai: a stream without include_usage reaches the client without the usage chunk, and is metered', async (t) => {
  const { s, fake, keys } = await gateway(t);
  const stream = await openai(s, keys.client).chat.completions.create({
    model: 'gpt-4o', stream: true, messages: [{ role: 'user', content: 'no usage asked [fake input=40 output=9]' }],
  });
  let chunks = 0;
  let text = '';
  for await (const chunk of stream) {
    chunks += 1;
    assert.equal(chunk.usage ?? null, null, 'no chunk may carry usage');
    assert.ok(chunk.choices.length > 0, 'the usage-only chunk (choices: []) must be dropped');
    text += chunk.choices[0].delta?.content ?? '';
  }
  assert.ok(chunks > 2);
  assert.equal(text.trim().split(/\s+/).length, 9);
  // tollgate asked upstream for the usage all the same.
  const seen = (await fake.requests()).filter((r) => r.target.endsWith('/chat/completions'));
  assert.equal(JSON.parse(seen[0].body).stream_options.include_usage, true);
  const [e] = await events(s, 1);
  assert.deepEqual(usageOf(e), { input: 40, output: 9, cached: 0, reasoning: 0 });
  assert.equal(e.estimated, false);
});

test('openai: responses and embeddings are metered', async (t) => {
  const { s, keys } = await gateway(t);
  const client = openai(s, keys.agent, { defaultHeaders: { 'x-tollgate-user': 'alice', 'x-tollgate-agent': 'rag' } });
  const r = await client.responses.create({ model: 'gpt-4.1', input: 'Say hi [fake input=31 output=5]' });
  assert.equal(r.output_text.split(' ').length, 5);
  assert.equal(r.usage.input_tokens, 31);
  const streamed = await client.responses.create({ model: 'gpt-4.1', input: 'again [fake input=8 output=6]', stream: true });
  let deltas = '';
  for await (const ev of streamed) if (ev.type === 'response.output_text.delta') deltas += ev.delta;
  assert.equal(deltas.trim().split(/\s+/).length, 6);
  const emb = await client.embeddings.create({ model: 'text-embedding-3-small', input: ['one [fake input=17]'] });
  assert.equal(emb.usage.prompt_tokens, 17);
  const ev = await events(s, 3);
  const get = (endpoint, input) => ev.find((e) => e.endpoint === endpoint && e.input_tokens === input);
  assert.equal(get('/v1/responses', 31).output_tokens, 5);
  assert.equal(get('/v1/responses', 8).output_tokens, 6);
  assert.equal(get('/v1/embeddings', 17).output_tokens, 0);
  for (const e of ev) {
    assert.equal(e.user_id, 'alice');
    assert.equal(e.agent, 'rag');
  }
});

test('anthropic: messages, plain and streamed, metered with the provider usage', async (t) => {
  const { s, fake, keys } = await gateway(t);
  const client = anthropic(s, keys.client);
  const msg = await client.messages.create({
    model: 'claude-3-5-haiku-20241022', max_tokens: 200,
    messages: [{ role: 'user', content: 'Hi [fake input=64 output=11]' }],
  });
  assert.equal(msg.content[0].text.split(' ').length, 11);
  assert.equal(msg.usage.input_tokens, 64);
  const stream = client.messages.stream({
    model: 'claude-sonnet-4-20250514', max_tokens: 300,
    messages: [{ role: 'user', content: 'Stream [fake input=21 output=13]' }],
  });
  let text = '';
  stream.on('text', (d) => { text += d; });
  const final = await stream.finalMessage();
  assert.equal(text.trim().split(/\s+/).length, 13);
  assert.equal(final.usage.output_tokens, 13);
  const ev = await events(s, 2);
  const byModel = Object.fromEntries(ev.map((e) => [e.model, e]));
  assert.deepEqual(usageOf(byModel['claude-3-5-haiku-20241022']), { input: 64, output: 11, cached: 0, reasoning: 0 });
  assert.deepEqual(usageOf(byModel['claude-sonnet-4-20250514']), { input: 21, output: 13, cached: 0, reasoning: 0 });
  const seen = (await fake.requests()).filter((r) => r.target === '/v1/messages');
  for (const r of seen) assert.equal(r.headers['x-api-key'], PROVIDER_KEY);
});

test('gemini: generateContent, plain and streamed, metered with the provider usage', async (t) => {
  const { s, fake, keys } = await gateway(t);
  const ai = gemini(s, keys.client);
  const r = await ai.models.generateContent({ model: 'gemini-2.0-flash', contents: 'Hello [fake input=44 output=8]' });
  assert.equal(r.text.split(' ').length, 8);
  assert.equal(r.usageMetadata.promptTokenCount, 44);
  let text = '';
  let last = null;
  for await (const chunk of await ai.models.generateContentStream({
    model: 'gemini-2.5-flash', contents: 'Stream [fake input=19 output=10]',
  })) {
    text += chunk.text ?? '';
    last = chunk.usageMetadata ?? last;
  }
  assert.equal(text.trim().split(/\s+/).length, 10);
  assert.equal(last.candidatesTokenCount, 10);
  const ev = await events(s, 2);
  const byModel = Object.fromEntries(ev.map((e) => [e.model, e]));
  assert.deepEqual(usageOf(byModel['gemini-2.0-flash']), { input: 44, output: 8, cached: 0, reasoning: 0 });
  assert.deepEqual(usageOf(byModel['gemini-2.5-flash']), { input: 19, output: 10, cached: 0, reasoning: 0 });
  const seen = (await fake.requests()).filter((r) => r.target.startsWith('/v1beta/'));
  for (const r of seen) {
    assert.equal(r.headers['x-goog-api-key'], PROVIDER_KEY);
    assert.ok(!r.target.includes('key='));
  }
});

test('over a limit each SDK raises its usual error with tollgate\'s message', async (t) => {
  const { s, keys } = await gateway(t);
  await addLimit(s, {
    scope: { level: 'tenant', tenant_id: 'acme' }, metric: 'tokens', window: { unit: 'day' }, limit: 50,
  });
  const messages = [{ role: 'user', content: 'too much' }];
  await assert.rejects(
    openai(s, keys.client).chat.completions.create({ model: 'gpt-4o', messages, max_tokens: 100 }),
    (e) => e instanceof OpenAI.PermissionDeniedError && e.status === 403 && /tollgate: .*tokens/.test(e.message),
  );
  await assert.rejects(
    anthropic(s, keys.client).messages.create({ model: 'claude-3-5-haiku-20241022', max_tokens: 100, messages }),
    (e) => e instanceof Anthropic.PermissionDeniedError && /tollgate: /.test(e.message),
  );
  await assert.rejects(
    gemini(s, keys.client).models.generateContent({
      model: 'gemini-2.0-flash', contents: 'too much', config: { maxOutputTokens: 100 },
    }),
    (e) => e.status === 403 && /tollgate: /.test(e.message),
  );

  // A rate (a window of an hour or less) answers 429 with Retry-After.
  const { s: s2, keys: k2 } = await gateway(t);
  await addLimit(s2, {
    scope: { level: 'tenant', tenant_id: 'acme' }, metric: 'requests', window: { unit: 'minute', kind: 'rolling' }, limit: 1,
  });
  await openai(s2, k2.client).chat.completions.create({ model: 'gpt-4o', messages });
  const raw = await fetch(`${s2.base}/v1/chat/completions`, {
    method: 'POST', headers: { authorization: `Bearer ${k2.client}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o', messages }),
  });
  assert.equal(raw.status, 429);
  assert.ok(Number(raw.headers.get('retry-after')) >= 1);
  assert.equal(raw.headers.get('x-ratelimit-limit-requests'), '1');
  assert.equal(raw.headers.get('x-ratelimit-remaining-requests'), '0');
  const body = await raw.json();
  assert.equal(body.error.code, 'rate_limited');
  await assert.rejects(
    openai(s2, k2.client).chat.completions.create({ model: 'gpt-4o', messages }),
    (e) => e instanceof OpenAI.RateLimitError && /tollgate: /.test(e.message),
  );
  await assert.rejects(
    anthropic(s2, k2.client).messages.create({ model: 'claude-3-5-haiku-20241022', max_tokens: 10, messages }),
    (e) => e instanceof Anthropic.RateLimitError,
  );
});

test('a bad key is refused in each provider\'s format and nothing reaches the provider', async (t) => {
  const { s, fake } = await gateway(t);
  const messages = [{ role: 'user', content: 'hi' }];
  await assert.rejects(
    openai(s, 'tg_not_a_key').chat.completions.create({ model: 'gpt-4o', messages }),
    (e) => e instanceof OpenAI.AuthenticationError,
  );
  await assert.rejects(
    anthropic(s, 'tg_not_a_key').messages.create({ model: 'claude-3-5-haiku-20241022', max_tokens: 10, messages }),
    (e) => e instanceof Anthropic.AuthenticationError,
  );
  await assert.rejects(
    gemini(s, 'tg_not_a_key').models.generateContent({ model: 'gemini-2.0-flash', contents: 'hi' }),
    (e) => e.status === 401,
  );
  // An admin key is not a model caller.
  const admin = await fetch(`${s.base}/v1/chat/completions`, {
    method: 'POST', headers: { authorization: 'Bearer tg_e2e_admin_key_0123456789abcdefghijklmnopqrstuvwxyz' },
    body: JSON.stringify({ model: 'gpt-4o', messages }),
  });
  assert.equal(admin.status, 403);
  assert.equal((await fake.requests()).length, 0);
  assert.equal((await events(s, 0)).length, 0);
});

test('an upstream 500 is passed back unchanged and nothing is charged', async (t) => {
  const { s, keys } = await gateway(t);
  const res = await fetch(`${s.base}/v1/chat/completions`, {
    method: 'POST', headers: { authorization: `Bearer ${keys.client}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'boom [fake status=500]' }] }),
  });
  assert.equal(res.status, 500);
  const body = await res.json();
  assert.ok(body.error, JSON.stringify(body));
  await assert.rejects(
    anthropic(s, keys.client).messages.create({
      model: 'claude-3-5-haiku-20241022', max_tokens: 10, messages: [{ role: 'user', content: 'boom [fake status=500]' }],
    }),
    (e) => e instanceof Anthropic.InternalServerError,
  );
  await new Promise((r) => setTimeout(r, 100));
  assert.equal((await events(s, 0)).length, 0);
  const metrics = (await s.req('GET', '/metrics')).body;
  assert.match(metrics, /tollgate_gateway_calls_total\{provider="openai",outcome="upstream_error"\} 1\n/);
  assert.match(metrics, /tollgate_gateway_calls_total\{provider="anthropic",outcome="upstream_error"\} 1\n/);
  for (const l of await limitStatus(s, keys.agent)) assert.equal(l.reserved, 0);
});

test('an upstream that stalls times out with a provider-format error and frees the reservation', async (t) => {
  const { s, keys } = await gateway(t, {
    env: { TOLLGATE_PROVIDERS_OPENAI_TIMEOUT_S: '1', TOLLGATE_PROVIDERS_ANTHROPIC_TIMEOUT_S: '1' },
  });
  await addLimit(s, { scope: { level: 'tenant', tenant_id: 'acme' }, metric: 'tokens', window: { unit: 'day' }, limit: 100000 });
  const started = Date.now();
  const res = await fetch(`${s.base}/v1/chat/completions`, {
    method: 'POST', headers: { authorization: `Bearer ${keys.client}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: 'gpt-4o', messages: [{ role: 'user', content: 'wait [fake stall]' }] }),
  });
  assert.equal(res.status, 504);
  assert.ok(Date.now() - started < 5000);
  const body = await res.json();
  assert.equal(body.error.code, 'upstream_timeout');
  await assert.rejects(
    anthropic(s, keys.client).messages.create({
      model: 'claude-3-5-haiku-20241022', max_tokens: 10, messages: [{ role: 'user', content: 'wait [fake stall]' }],
    }),
    (e) => e.status === 504 && e.error?.type === 'error',
  );
  const [daily] = await limitStatus(s, keys.agent);
  assert.equal(daily.reserved, 0);
  assert.equal(daily.used, 0);
});

test('a client that disconnects mid-stream is charged for the streamed part and the upstream call is cancelled', async (t) => {
  const { s, keys } = await gateway(t);
  await addLimit(s, { scope: { level: 'tenant', tenant_id: 'acme' }, metric: 'tokens', window: { unit: 'day' }, limit: 100000 });
  const controller = new AbortController();
  const res = await fetch(`${s.base}/v1/messages`, {
    method: 'POST', signal: controller.signal,
    headers: { 'x-api-key': keys.client, 'content-type': 'application/json', 'anthropic-version': '2023-06-01' },
    body: JSON.stringify({
      model: 'claude-3-5-haiku-20241022', max_tokens: 1000, stream: true,
      messages: [{ role: 'user', content: 'long one [fake input=30 output=400 chunk_delay_ms=20]' }],
    }),
  });
  assert.equal(res.status, 200);
  const reader = res.body.getReader();
  let received = '';
  while ((received.match(/content_block_delta/g) ?? []).length < 5) {
    const { value } = await reader.read();
    received += new TextDecoder().decode(value);
  }
  controller.abort();
  const [e] = await events(s, 1);
  assert.equal(e.status, 'cancelled');
  assert.equal(e.input_tokens, 30);
  assert.ok(e.output_tokens >= 5 && e.output_tokens < 400, `charged ${e.output_tokens} of 400`);
  const [daily] = await limitStatus(s, keys.agent);
  assert.equal(daily.reserved, 0);
  assert.equal(daily.used, e.total_tokens);
  const metrics = (await s.req('GET', '/metrics')).body;
  assert.match(metrics, /tollgate_gateway_calls_total\{provider="anthropic",outcome="cancelled"\} 1\n/);
});
