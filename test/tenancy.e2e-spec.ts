import { RequestMethod } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { IS_PUBLIC } from '../src/auth/public.decorator.js';
import { startTestApp, type TestApp } from './harness/app.js';
import { readyAdmin, type TestAccount } from './harness/identity.js';

/**
 * Two businesses; every id-taking route of one is called with the ids of the other. A foreign
 * id must answer 404 (never 403, which would confirm it exists) and change nothing.
 */
describe('tenant isolation', () => {
  let t: TestApp;
  let alice: TestAccount;
  let bob: TestAccount;
  let bobSessionId: string;

  beforeAll(async () => {
    t = await startTestApp();
    alice = await readyAdmin(t, { businessName: 'Alice Electric' });
    bob = await readyAdmin(t, { businessName: 'Bob Roofing' });
    const sessions = await t.inject({ method: 'GET', url: '/v1/auth/sessions', headers: bob.auth });
    bobSessionId = sessions.json().data[0].id;
  });
  afterAll(async () => {
    await t?.close();
  });

  /** For each route parameter, the other business's id of that kind. Extend it with every new id-taking route. */
  const foreignIds = (): Record<string, string> => ({
    'DELETE /v1/auth/sessions/:id': bobSessionId,
    'PATCH /v1/members/:userId': bob.userId,
    'DELETE /v1/members/:userId': bob.userId,
  });
  const bodies: Record<string, unknown> = { 'PATCH /v1/members/:userId': { role: 'viewer' } };

  function idTakingRoutes(): Array<{ method: string; path: string }> {
    const discovery = t.app.get(DiscoveryService);
    const scanner = t.app.get(MetadataScanner);
    const routes: Array<{ method: string; path: string }> = [];
    for (const wrapper of discovery.getControllers()) {
      if (!wrapper.metatype || !wrapper.instance) continue;
      const base = String(Reflect.getMetadata('path', wrapper.metatype) ?? '');
      const prototype = Object.getPrototypeOf(wrapper.instance) as Record<string, (...args: unknown[]) => unknown>;
      for (const name of scanner.getAllMethodNames(prototype)) {
        const handler = prototype[name];
        const path = Reflect.getMetadata('path', handler) as string | undefined;
        const method = Reflect.getMetadata('method', handler) as RequestMethod | undefined;
        if (path === undefined || method === undefined || Reflect.getMetadata(IS_PUBLIC, handler)) continue;
        const full = `/${[base, path].map((part) => part.replace(/^\/|\/$/g, '')).filter(Boolean).join('/')}`;
        if (full.includes(':')) routes.push({ method: RequestMethod[method], path: full });
      }
    }
    return routes;
  }

  it('knows a foreign id for every id-taking route', () => {
    const routes = idTakingRoutes().map((route) => `${route.method} ${route.path}`);
    expect(routes.length).toBeGreaterThan(0);
    expect(routes.filter((route) => !(route in foreignIds()))).toEqual([]);
  });

  it('answers 404 to every id-taking route called with another business’s id, and changes nothing', async () => {
    const before = await snapshot();
    for (const route of idTakingRoutes()) {
      const key = `${route.method} ${route.path}`;
      const url = route.path.replace(/:\w+/, foreignIds()[key]);
      const response = await t.inject({ method: route.method as 'GET', url, headers: alice.auth, payload: bodies[key] as object | undefined });
      expect({ key, status: response.statusCode }).toEqual({ key, status: 404 });
      expect(response.headers['content-type']).toContain('application/problem+json');
    }
    expect(await snapshot()).toEqual(before);
    // Bob's session still works.
    expect((await t.inject({ method: 'GET', url: '/v1/members', headers: bob.auth })).statusCode).toBe(200);
  });

  it('lists only the caller’s own business members', async () => {
    const response = await t.inject({ method: 'GET', url: '/v1/members', headers: alice.auth });
    expect(response.json().data.map((member: { userId: string }) => member.userId)).toEqual([alice.userId]);
  });

  async function snapshot(): Promise<unknown> {
    const memberships = await t.db.query('SELECT business_id, user_id, role FROM memberships ORDER BY business_id, user_id');
    const sessions = await t.db.query('SELECT id, revoked_at FROM sessions ORDER BY id');
    return { memberships: memberships.rows, sessions: sessions.rows };
  }
});
