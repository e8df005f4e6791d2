// The fake provider against the official SDKs, with no gateway in between: proves that
// `tollgate fake-provider` speaks wire formats the SDKs accept (bodies, streams, errors),
// so the gateway tests that put tollgate in front of it test tollgate, not the fake.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import OpenAI from 'openai';
import Anthropic from '@anthropic-ai/sdk';
import { GoogleGenAI, ApiError } from '@google/genai';
import { FakeProvider, replyText, estimateTokens } from './lib/fake.mjs';

const KEY = 'sk-fake-e2e-0123456789';
let fake;
let openai;
let anthropic;
let gemini;

before(async () => {
  fake = await new FakeProvider({ apiKey: KEY }).start();
  openai = new OpenAI({ apiKey: KEY, baseURL: `${fake.base}/v1`, maxRetries: 0 });
  anthropic = new Anthropic({ apiKey: KEY, baseURL: fake.base, maxRetries: 0 });
  gemini = new GoogleGenAI({ apiKey: KEY, httpOptions: { baseUrl: fake.base } });
});
after(() => fake?.stop());

const user = (text) => [{ role: 'user', content: text }];

describe('openai', () => {
  test('chat completion returns the text and usage', async () => {
    const r = await openai.chat.completions.create({
      model: 'gpt-4o-mini',
      messages: user('hi [fake input=12 output=5 cached=4 reasoning=1]'),
    });
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.model, 'gpt-4o-mini');
    assert.equal(r.choices[0].message.content, replyText(4));
    assert.equal(r.choices[0].finish_reason, 'stop');
    assert.equal(r.usage.prompt_tokens, 12);
    assert.equal(r.usage.completion_tokens, 5);
    assert.equal(r.usage.total_tokens, 17);
    assert.equal(r.usage.prompt_tokens_details.cached_tokens, 4);
    assert.equal(r.usage.completion_tokens_details.reasoning_tokens, 1);
  });

  test('input tokens are estimated from the prompt and output defaults to 20', async () => {
    const system = 'You are terse.';
    const prompt = 'Say something, please.';
    const r = await openai.chat.completions.create({
      model: 'gpt-4o',
      messages: [{ role: 'system', content: system }, ...user(prompt)],
    });
    assert.equal(r.usage.prompt_tokens, estimateTokens(system + prompt));
    assert.equal(r.usage.completion_tokens, 20);
    assert.equal(r.choices[0].message.content, replyText(20));
  });

  test('max_tokens cuts the default reply with finish_reason length, not an explicit output', async () => {
    const r = await openai.chat.completions.create({ model: 'gpt-4o', max_tokens: 3, messages: user('hi') });
    assert.equal(r.choices[0].finish_reason, 'length');
    assert.equal(r.usage.completion_tokens, 3);
    assert.equal(r.choices[0].message.content, replyText(3));
    const explicit = await openai.chat.completions.create({
      model: 'gpt-4o', max_tokens: 3, messages: user('[fake output=10]'),
    });
    assert.equal(explicit.choices[0].finish_reason, 'stop');
    assert.equal(explicit.usage.completion_tokens, 10);
  });

  test('stream without include_usage has no usage chunk', async () => {
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o', stream: true, messages: user('[fake output=10]'),
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    assert.equal(chunks[0].choices[0].delta.role, 'assistant');
    assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join(''), replyText(10));
    assert.equal(chunks.at(-1).choices[0].finish_reason, 'stop');
    assert.ok(chunks.every((c) => !('usage' in c)), 'no chunk mentions usage');
    assert.equal(chunks.length, 1 + 3 + 1);
  });

  test('stream with include_usage ends with a usage chunk', async () => {
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o', stream: true, stream_options: { include_usage: true },
      messages: user('[fake input=7 output=10]'),
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    const last = chunks.at(-1);
    assert.deepEqual(last.choices, []);
    assert.equal(last.usage.prompt_tokens, 7);
    assert.equal(last.usage.completion_tokens, 10);
    assert.equal(last.usage.total_tokens, 17);
    assert.ok(chunks.slice(0, -1).every((c) => c.usage === null), 'earlier chunks carry usage: null');
    assert.equal(chunks.at(-2).choices[0].finish_reason, 'stop');
  });

  test('responses: body and stream', async () => {
    const r = await openai.responses.create({ model: 'gpt-4.1', input: 'hi [fake input=9 output=6]' });
    assert.equal(r.output_text, replyText(6));
    assert.equal(r.status, 'completed');
    assert.equal(r.usage.input_tokens, 9);
    assert.equal(r.usage.output_tokens, 6);
    assert.equal(r.usage.total_tokens, 15);

    const stream = await openai.responses.create({
      model: 'gpt-4.1', stream: true,
      input: [{ role: 'user', content: [{ type: 'input_text', text: '[fake input=9 output=6]' }] }],
    });
    const events = [];
    for await (const e of stream) events.push(e);
    assert.equal(events[0].type, 'response.created');
    assert.deepEqual(events.map((e) => e.sequence_number), events.map((_, i) => i));
    assert.equal(events.filter((e) => e.type === 'response.output_text.delta').map((e) => e.delta).join(''),
      replyText(6));
    const done = events.at(-1);
    assert.equal(done.type, 'response.completed');
    assert.equal(done.response.usage.output_tokens, 6);
  });

  test('responses: the SDK stream helper assembles the final response', async () => {
    const stream = openai.responses.stream({ model: 'gpt-4.1', input: '[fake output=9]' });
    let deltas = '';
    stream.on('response.output_text.delta', (e) => { deltas += e.delta; });
    const final = await stream.finalResponse();
    assert.equal(deltas, replyText(9));
    assert.equal(final.output_text, replyText(9));
    assert.equal(final.usage.output_tokens, 9);
  });

  test('embeddings: the default base64 encoding decodes to floats', async () => {
    const r = await openai.embeddings.create({ model: 'text-embedding-3-small', input: ['a', 'bb [fake input=5]'] });
    assert.equal(r.data.length, 2);
    assert.equal(r.data[1].index, 1);
    assert.equal(r.data[0].embedding.length, 8);
    assert.ok(r.data[0].embedding.every((x) => typeof x === 'number' && x >= -0.5 && x <= 0.5));
    assert.equal(r.usage.prompt_tokens, 5);
    const floats = await openai.embeddings.create({
      model: 'text-embedding-3-small', input: 'a', encoding_format: 'float', dimensions: 4,
    });
    assert.equal(floats.data[0].embedding.length, 4);
    assert.deepEqual(Array.from(r.data[0].embedding.slice(0, 4)), floats.data[0].embedding);
  });

  test('models list', async () => {
    const ids = [];
    for await (const m of openai.models.list()) ids.push(m.id);
    assert.deepEqual(ids, ['gpt-4o', 'gpt-4o-mini', 'gpt-4.1', 'gpt-3.5-turbo', 'text-embedding-3-small', 'o3-mini']);
  });

  test('error directives raise the SDK error classes', async () => {
    await assert.rejects(
      openai.chat.completions.create({ model: 'gpt-4o', messages: user('[fake status=500]') }),
      (e) => e instanceof OpenAI.InternalServerError && e.status === 500 && e.type === 'server_error');
    await assert.rejects(
      openai.chat.completions.create({ model: 'gpt-4o', stream: true, messages: user('[fake status=429]') }),
      (e) => e instanceof OpenAI.RateLimitError && e.status === 429 && e.code === 'rate_limit_exceeded' &&
        e.headers.get('retry-after') === '1');
    const bad = new OpenAI({ apiKey: 'wrong', baseURL: `${fake.base}/v1`, maxRetries: 0 });
    await assert.rejects(bad.chat.completions.create({ model: 'gpt-4o', messages: user('hi') }),
      (e) => e instanceof OpenAI.AuthenticationError && e.code === 'invalid_api_key');
  });
});

describe('anthropic', () => {
  test('message returns the text and usage', async () => {
    const m = await anthropic.messages.create({
      model: 'claude-sonnet-4-5', max_tokens: 100,
      messages: user('hi [fake input=30 output=6 cached=10 cache_write=5]'),
    });
    assert.equal(m.type, 'message');
    assert.equal(m.model, 'claude-sonnet-4-5');
    assert.equal(m.content[0].type, 'text');
    assert.equal(m.content[0].text, replyText(6));
    assert.equal(m.stop_reason, 'end_turn');
    assert.equal(m.usage.input_tokens, 15);
    assert.equal(m.usage.cache_read_input_tokens, 10);
    assert.equal(m.usage.cache_creation_input_tokens, 5);
    assert.equal(m.usage.output_tokens, 6);
  });

  test('stream events and the SDK stream helper', async () => {
    const stream = await anthropic.messages.create({
      model: 'claude-sonnet-4-5', max_tokens: 100, stream: true, messages: user('[fake input=20 output=9]'),
    });
    const events = [];
    for await (const e of stream) events.push(e);
    assert.deepEqual([...new Set(events.map((e) => e.type))],
      ['message_start', 'content_block_start', 'content_block_delta', 'content_block_stop', 'message_delta', 'message_stop']);
    assert.equal(events[0].message.usage.input_tokens, 20);
    assert.equal(events[0].message.usage.output_tokens, 1);
    assert.equal(events.find((e) => e.type === 'message_delta').usage.output_tokens, 9);
    assert.equal(events.filter((e) => e.type === 'content_block_delta').map((e) => e.delta.text).join(''),
      replyText(9));

    const helper = anthropic.messages.stream({
      model: 'claude-sonnet-4-5', max_tokens: 5, messages: user('no directive: 20 words, cut to 5'),
    });
    let text = '';
    helper.on('text', (t) => { text += t; });
    const final = await helper.finalMessage();
    assert.equal(text, replyText(5));
    assert.equal(final.content[0].text, replyText(5));
    assert.equal(final.stop_reason, 'max_tokens');
    assert.equal(final.usage.output_tokens, 5);
  });

  test('count_tokens', async () => {
    const r = await anthropic.messages.countTokens({ model: 'claude-sonnet-4-5', messages: user('12345678') });
    assert.deepEqual(r, { input_tokens: 2 });
  });

  test('error directives raise the SDK error classes', async () => {
    const ask = (text) => anthropic.messages.create({ model: 'claude-sonnet-4-5', max_tokens: 10, messages: user(text) });
    await assert.rejects(ask('[fake status=529]'),
      (e) => e instanceof Anthropic.InternalServerError && e.status === 529 && e.error.error.type === 'overloaded_error');
    await assert.rejects(ask('[fake status=429]'),
      (e) => e instanceof Anthropic.RateLimitError && e.error.error.type === 'rate_limit_error');
    const bad = new Anthropic({ apiKey: 'wrong', baseURL: fake.base, maxRetries: 0 });
    await assert.rejects(bad.messages.create({ model: 'c', max_tokens: 1, messages: user('hi') }),
      (e) => e instanceof Anthropic.AuthenticationError && e.error.error.type === 'authentication_error');
  });
});

describe('gemini', () => {
  test('generateContent returns the text and usageMetadata', async () => {
    const r = await gemini.models.generateContent({
      model: 'gemini-2.5-flash', contents: 'hi [fake input=11 output=7 reasoning=2]',
    });
    assert.equal(r.text, replyText(5));
    assert.equal(r.candidates[0].finishReason, 'STOP');
    assert.equal(r.usageMetadata.promptTokenCount, 11);
    assert.equal(r.usageMetadata.candidatesTokenCount, 5);
    assert.equal(r.usageMetadata.thoughtsTokenCount, 2);
    assert.equal(r.usageMetadata.totalTokenCount, 18);
    assert.equal(r.modelVersion, 'gemini-2.5-flash');
  });

  test('generateContentStream (alt=sse) has cumulative usage', async () => {
    const beta = new GoogleGenAI({ apiKey: KEY, httpOptions: { baseUrl: fake.base, apiVersion: 'v1beta' } });
    const stream = await beta.models.generateContentStream({
      model: 'gemini-2.5-flash', contents: '[fake input=11 output=10]',
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    assert.equal(chunks.map((c) => c.text).join(''), replyText(10));
    assert.deepEqual(chunks.map((c) => c.usageMetadata.candidatesTokenCount), [4, 8, 10]);
    assert.ok(chunks.every((c) => c.usageMetadata.promptTokenCount === 11));
    assert.equal(chunks.at(-1).usageMetadata.totalTokenCount, 21);
    assert.equal(chunks.at(-1).candidates[0].finishReason, 'STOP');
    const [req] = (await fake.requests()).slice(-1);
    assert.equal(req.target, '/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse');
  });

  test('streamGenerateContent without alt=sse is one streamed JSON array', async () => {
    const res = await fetch(`${fake.base}/v1beta/models/gemini-2.5-flash:streamGenerateContent`, {
      method: 'POST',
      headers: { 'x-goog-api-key': KEY, 'content-type': 'application/json' },
      body: JSON.stringify({ contents: [{ role: 'user', parts: [{ text: '[fake output=6]' }] }] }),
    });
    assert.equal(res.status, 200);
    const text = await res.text();
    assert.match(text, /^\[\{.*\}\n,\r\n\{.*\}\]$/s);
    const parts = JSON.parse(text);
    assert.equal(parts.length, 2);
    assert.equal(parts.map((p) => p.candidates[0].content.parts[0].text).join(''), replyText(6));
  });

  test('error directives raise ApiError', async () => {
    await assert.rejects(gemini.models.generateContent({ model: 'gemini-2.5-flash', contents: '[fake status=500]' }),
      (e) => e instanceof ApiError && e.status === 500 && /"status":"INTERNAL"/.test(e.message));
    await assert.rejects(gemini.models.generateContentStream({ model: 'gemini-2.5-flash', contents: '[fake status=429]' }),
      (e) => e instanceof ApiError && e.status === 429 && /RESOURCE_EXHAUSTED/.test(e.message));
    const bad = new GoogleGenAI({ apiKey: 'wrong', httpOptions: { baseUrl: fake.base } });
    await assert.rejects(bad.models.generateContent({ model: 'g', contents: 'hi' }),
      (e) => e instanceof ApiError && e.status === 401 && /UNAUTHENTICATED/.test(e.message));
  });
});

describe('behaviour', () => {
  test('each SDK sends its key in its own header', async () => {
    await fake.clearRequests();
    await openai.chat.completions.create({ model: 'gpt-4o', messages: user('a') });
    await anthropic.messages.create({ model: 'c', max_tokens: 1, messages: user('b') });
    await gemini.models.generateContent({ model: 'g', contents: 'c' });
    const [o, a, g] = await fake.requests();
    assert.equal(o.target, '/v1/chat/completions');
    assert.equal(o.headers.authorization, `Bearer ${KEY}`);
    assert.equal(a.target, '/v1/messages');
    // @anthropic-ai/sdk 1.x sends its apiKey as a bearer token, not x-api-key.
    assert.equal(a.headers.authorization, `Bearer ${KEY}`);
    assert.ok(a.headers['anthropic-version']);
    // @google/genai 3.x calls the v1 API unless told otherwise.
    assert.equal(g.target, '/v1/models/g:generateContent');
    assert.equal(g.headers['x-goog-api-key'], KEY);
    assert.equal(JSON.parse(g.body).contents[0].parts[0].text, 'c');
  });

  test('malformed JSON is a 400 in the provider format', async () => {
    const res = await fetch(`${fake.base}/v1/chat/completions`, {
      method: 'POST', headers: { authorization: `Bearer ${KEY}` }, body: '{"model":',
    });
    assert.equal(res.status, 400);
    assert.equal((await res.json()).error.type, 'invalid_request_error');
  });

  test('a stalled request holds no thread and ends when the client gives up', async () => {
    const started = Date.now();
    await assert.rejects(
      openai.chat.completions.create({ model: 'gpt-4o', messages: user('[fake stall]') }, { timeout: 300 }),
      (e) => e instanceof OpenAI.APIConnectionTimeoutError);
    assert.ok(Date.now() - started >= 290);
    // The fake runs one thread: it still answers.
    const r = await openai.chat.completions.create({ model: 'gpt-4o', messages: user('[fake output=1]') });
    assert.equal(r.choices[0].message.content, 'lorem');
  });

  test('stall_after streams that many text chunks, then hangs', async () => {
    const ac = new AbortController();
    const stream = await anthropic.messages.create(
      { model: 'c', max_tokens: 100, stream: true, messages: user('[fake stall_after=2 output=40]') },
      { signal: ac.signal });
    let text = '';
    const timer = setTimeout(() => ac.abort(), 500);
    try {
      for await (const e of stream) if (e.type === 'content_block_delta') text += e.delta.text;
    } catch (e) {
      assert.ok(e instanceof Anthropic.APIUserAbortError || e.name === 'AbortError', String(e));
    }
    clearTimeout(timer);
    assert.ok(ac.signal.aborted, 'the stream never finished');
    assert.equal(text, replyText(8));
  });

  test('chunk_delay_ms spaces the text chunks', async () => {
    const started = Date.now();
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o', stream: true, messages: user('[fake chunk_delay_ms=60 output=12]'),
    });
    const arrivals = [];
    for await (const c of stream) if (c.choices[0]?.delta?.content) arrivals.push(Date.now() - started);
    assert.equal(arrivals.length, 3);
    assert.ok(arrivals[2] >= 170, `3 chunks 60 ms apart arrived at ${arrivals}`);
  });

  test('no_usage leaves usage out everywhere', async () => {
    const r = await openai.chat.completions.create({ model: 'gpt-4o', messages: user('[fake no_usage]') });
    assert.equal(r.usage, undefined);
    const stream = await openai.chat.completions.create({
      model: 'gpt-4o', stream: true, stream_options: { include_usage: true }, messages: user('[fake no_usage]'),
    });
    for await (const c of stream) assert.ok(!c.usage, 'no usage chunk');
    const g = await gemini.models.generateContent({ model: 'g', contents: '[fake no_usage]' });
    assert.equal(g.usageMetadata, undefined);
  });

  test('flags set the defaults', async (t) => {
    const f = await new FakeProvider({ inputTokens: 100, outputTokens: 3, latencyMs: 100 }).start();
    t.after(() => f.stop());
    const client = new OpenAI({ apiKey: 'anything', baseURL: `${f.base}/v1`, maxRetries: 0 });
    const started = Date.now();
    const r = await client.chat.completions.create({ model: 'gpt-4o', messages: user('hello') });
    assert.ok(Date.now() - started >= 95);
    assert.equal(r.usage.prompt_tokens, 100);
    assert.equal(r.choices[0].message.content, replyText(3));
  });
});
