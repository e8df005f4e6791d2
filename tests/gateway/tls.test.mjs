// HTTPS to the provider (SPEC section 7): the gateway verifies the upstream certificate
// and host name. A local TLS server with a certificate from a test CA stands in for the
// provider: trusted through providers.<name>.ca_file the call goes through; without it,
// or for a certificate naming another host, the call is refused before any request is
// sent.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createServer } from 'node:https';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer, setupTenant } from '../e2e/lib/server.mjs';
import { openai } from './lib/gateway.mjs';
import OpenAI from 'openai';

// A test CA and a server certificate for `host` signed by it (openssl CLI), in `dir`.
function makeCerts(dir, host) {
  const run = (...args) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem',
    '-days', '2', '-subj', '/CN=tollgate test CA');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr',
    '-subj', `/CN=${host}`);
  writeFileSync(join(dir, 'san.ext'), `subjectAltName=DNS:${host}\n`);
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial',
    '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext');
  return { ca: join(dir, 'ca.pem'), key: readFileSync(join(dir, 'server.key')), cert: readFileSync(join(dir, 'server.pem')) };
}

// An HTTPS "provider" answering every chat completion with the same small body.
async function tlsProvider(t, certs) {
  const seen = [];
  const server = createServer({ key: certs.key, cert: certs.cert }, (req, res) => {
    let body = '';
    req.on('data', (d) => { body += d; });
    req.on('end', () => {
      seen.push({ url: req.url, auth: req.headers.authorization, body });
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({
        id: 'chatcmpl-tls', object: 'chat.completion', created: 1, model: 'gpt-4o',
        choices: [{ index: 0, message: { role: 'assistant', content: 'over TLS' }, finish_reason: 'stop' }],
        usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 },
      }));
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => server.close(r)));
  return { port: server.address().port, seen };
}

async function gatewayTo(t, provider, host, caFile) {
  const env = {
    OPENAI_API_KEY: 'sk-tls-provider-key',
    TOLLGATE_PROVIDERS_OPENAI_BASE_URL: `https://${host}:${provider.port}/v1`,
    TOLLGATE_PROVIDERS_OPENAI_TIMEOUT_S: '5',
  };
  if (caFile) env.TOLLGATE_PROVIDERS_OPENAI_CA_FILE = caFile;
  const s = await startServer(t, { env });
  const { keys } = await setupTenant(s, 'acme');
  return { s, keys };
}

test('https upstream: a certificate from the configured CA is accepted; others are refused', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const certs = makeCerts(dir, 'localhost');
  const provider = await tlsProvider(t, certs);
  const messages = [{ role: 'user', content: 'hello' }];

  const trusted = await gatewayTo(t, provider, 'localhost', certs.ca);
  const ok = await openai(trusted.s, trusted.keys.client).chat.completions.create({ model: 'gpt-4o', messages });
  assert.equal(ok.choices[0].message.content, 'over TLS');
  assert.equal(provider.seen.length, 1);
  assert.equal(provider.seen[0].auth, 'Bearer sk-tls-provider-key');
  assert.equal(provider.seen[0].url, '/v1/chat/completions');

  // The system store does not know the test CA.
  const untrusted = await gatewayTo(t, provider, 'localhost', '');
  await assert.rejects(
    openai(untrusted.s, untrusted.keys.client).chat.completions.create({ model: 'gpt-4o', messages }),
    (e) => e instanceof OpenAI.APIError && e.status === 502 && /certificate/i.test(e.message),
  );
  // The right CA but another name: 127.0.0.1 is not in the certificate.
  const misnamed = await gatewayTo(t, provider, '127.0.0.1', certs.ca);
  await assert.rejects(
    openai(misnamed.s, misnamed.keys.client).chat.completions.create({ model: 'gpt-4o', messages }),
    (e) => e instanceof OpenAI.APIError && e.status === 502,
  );
  assert.equal(provider.seen.length, 1, 'refused calls sent nothing');
  const limits = await untrusted.s.req('GET', '/api/admin/usage/events?tenant_id=acme');
  assert.equal(limits.body.events.length, 0);
});
