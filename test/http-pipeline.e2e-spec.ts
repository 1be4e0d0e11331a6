import { startTestApp, type TestApp } from './harness/app.js';
import { ProbeModule } from './fixtures/probe.module.js';

describe('HTTP pipeline: headers, errors as problem+json, bad input', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await startTestApp({ extraModules: [ProbeModule] });
  });
  afterAll(async () => {
    await t?.close();
  });

  it('answers liveness with security headers and a request id', async () => {
    const res = await t.inject({ method: 'GET', url: '/health' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
    expect(res.headers['strict-transport-security']).toBe('max-age=31536000; includeSubDomains');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('keeps a well-formed incoming request id and replaces a malformed one', async () => {
    const kept = await t.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'client-req-12345' } });
    expect(kept.headers['x-request-id']).toBe('client-req-12345');
    const replaced = await t.inject({ method: 'GET', url: '/health', headers: { 'x-request-id': 'bad id\r\nx: y' } });
    expect(replaced.headers['x-request-id']).not.toContain('bad');
  });

  it('reports readiness of the database and the queue backend', async () => {
    const res = await t.inject({ method: 'GET', url: '/health/ready' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok', checks: { database: 'up', queue: 'up' } });
  });

  it('serves the OpenAPI document generated from the controllers', async () => {
    const res = await t.inject({ method: 'GET', url: '/docs-json' });
    expect(res.statusCode).toBe(200);
    const document = res.json();
    expect(document.openapi).toMatch(/^3\./);
    expect(Object.keys(document.paths)).toEqual(expect.arrayContaining(['/health', '/health/ready']));
    const ui = await t.inject({ method: 'GET', url: '/docs' });
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toContain('text/html');
  });

  it('answers an unknown route with a problem+json 404', async () => {
    const res = await t.inject({ method: 'GET', url: '/v1/nothing-here?t=secret' });
    expect(res.statusCode).toBe(404);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json()).toMatchObject({ status: 404, title: 'Not Found', code: 'not_found', type: expect.stringContaining('not_found') });
    expect(res.body).not.toContain('secret');
  });

  it('accepts a valid body', async () => {
    const body = { name: 'Roof repair', lines: [{ description: 'Tiles', quantity: 3 }] };
    const res = await t.inject({ method: 'POST', url: '/test-probe/echo', payload: body });
    expect(res.statusCode).toBe(201);
    expect(res.json()).toEqual(body);
  });

  it('refuses unknown properties, naming the field path', async () => {
    const res = await t.inject({
      method: 'POST',
      url: '/test-probe/echo',
      payload: { name: 'x', lines: [{ description: 'a', quantity: 1, price: 5 }], admin: true },
    });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toContain('application/problem+json');
    const problem = res.json();
    expect(problem.code).toBe('validation_failed');
    expect(problem.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ field: 'admin', code: 'unknown_property' }),
        expect.objectContaining({ field: 'lines[0].price', code: 'unknown_property' }),
      ]),
    );
  });

  it('refuses wrong types and missing fields, naming each field', async () => {
    const res = await t.inject({ method: 'POST', url: '/test-probe/echo', payload: { name: 42, lines: [{ description: 'a', quantity: '3' }] } });
    expect(res.statusCode).toBe(400);
    const fields = res.json().errors.map((error: { field: string }) => error.field);
    expect(fields).toEqual(expect.arrayContaining(['name', 'lines[0].quantity']));
    const missing = await t.inject({ method: 'POST', url: '/test-probe/echo', payload: {} });
    expect(missing.statusCode).toBe(400);
    expect(missing.json().errors.map((error: { field: string }) => error.field)).toEqual(expect.arrayContaining(['name', 'lines']));
  });

  it('refuses a body that is a JSON array or scalar instead of an object', async () => {
    for (const payload of ['[1,2]', '"text"', '17', 'null']) {
      const res = await t.inject({ method: 'POST', url: '/test-probe/echo', payload, headers: { 'content-type': 'application/json' } });
      expect(res.statusCode).toBe(400);
      expect(res.headers['content-type']).toContain('application/problem+json');
    }
  });

  it('refuses malformed JSON with 400', async () => {
    const res = await t.inject({ method: 'POST', url: '/test-probe/echo', payload: '{"name": "x",', headers: { 'content-type': 'application/json' } });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json().code).toBe('malformed_body');
  });

  it('refuses an empty JSON body with 400', async () => {
    const res = await t.inject({ method: 'POST', url: '/test-probe/echo', payload: '', headers: { 'content-type': 'application/json' } });
    expect(res.statusCode).toBe(400);
    expect(res.headers['content-type']).toContain('application/problem+json');
  });

  it('refuses a wrong content type with 415', async () => {
    for (const contentType of ['text/plain', 'application/xml', 'multipart/form-data; boundary=x']) {
      const res = await t.inject({ method: 'POST', url: '/test-probe/echo', payload: 'name=x', headers: { 'content-type': contentType } });
      expect(res.statusCode).toBe(415);
      expect(res.headers['content-type']).toContain('application/problem+json');
      expect(res.json().code).toBe('unsupported_media_type');
    }
  });

  it('refuses an oversized body with 413 before it reaches a handler', async () => {
    const payload = JSON.stringify({ name: 'x'.repeat(2 * 1024 * 1024), lines: [] });
    const res = await t.inject({ method: 'POST', url: '/test-probe/echo', payload, headers: { 'content-type': 'application/json' } });
    expect(res.statusCode).toBe(413);
    expect(res.headers['content-type']).toContain('application/problem+json');
    expect(res.json().code).toBe('body_too_large');
  });

  it('keeps the exact raw bytes of a JSON body for signature checks', async () => {
    const sent = '{ "b":1,  "a" : [1, 2] }';
    const res = await t.inject({ method: 'POST', url: '/test-probe/raw', payload: sent, headers: { 'content-type': 'application/json' } });
    expect(res.statusCode).toBe(201);
    expect(Buffer.from(res.json().raw, 'base64').toString('utf8')).toBe(sent);
  });

  it('turns an unexpected error into a 500 with an error id and no internals', async () => {
    const res = await t.inject({ method: 'GET', url: '/test-probe/explode' });
    expect(res.statusCode).toBe(500);
    expect(res.headers['content-type']).toContain('application/problem+json');
    const problem = res.json();
    expect(problem.errorId).toMatch(/^[0-9a-f-]{36}$/);
    for (const leak of ['secret_table', 'SELECT', 'password', 'canary-sql', 'at ', '.ts:', 'node_modules', 'Nest', 'Fastify']) {
      expect(res.body).not.toContain(leak);
    }
    const logged = t.logs.find((line) => line.errorId === problem.errorId);
    expect(logged).toBeDefined();
    expect(logged!.level).toBe('error');
    // The log keeps the diagnosis (the error) but the secret-looking part is redacted.
    expect(JSON.stringify(logged)).toContain('secret_table');
  });

  it('does not advertise the framework or version', async () => {
    const res = await t.inject({ method: 'GET', url: '/health' });
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers.server).toBeUndefined();
  });

  it('answers CORS preflight only for configured origins (none by default)', async () => {
    const res = await t.inject({
      method: 'OPTIONS',
      url: '/health',
      headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
    });
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
  });
});
