import { RequestMethod } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import { IS_PUBLIC } from '../src/auth/public.decorator.js';
import { ALLOW_WITHOUT_MFA, ROLES_KEY } from '../src/auth/roles.js';
import { startTestApp, type TestApp } from './harness/app.js';

/**
 * Walks every route the application mounts. A route with neither @Public() nor @Roles fails the
 * test; the reviewed snapshot of method, path and roles makes every permission change visible
 * in review (update it with `npx jest -u` only after reading the diff).
 */
describe('route permissions', () => {
  let t: TestApp;
  beforeAll(async () => {
    t = await startTestApp();
  });
  afterAll(async () => {
    await t?.close();
  });

  function declaredRoutes(): Array<{ method: string; path: string; access: string }> {
    const discovery = t.app.get(DiscoveryService);
    const scanner = t.app.get(MetadataScanner);
    const reflector = t.app.get(Reflector);
    const routes: Array<{ method: string; path: string; access: string }> = [];
    for (const wrapper of discovery.getControllers()) {
      const controller = wrapper.metatype as (new (...args: never[]) => unknown) | undefined;
      if (!controller || !wrapper.instance) continue;
      const base = String(Reflect.getMetadata('path', controller) ?? '');
      const prototype = Object.getPrototypeOf(wrapper.instance) as Record<string, (...args: unknown[]) => unknown>;
      for (const name of scanner.getAllMethodNames(prototype)) {
        const handler = prototype[name];
        const path = Reflect.getMetadata('path', handler) as string | undefined;
        const method = Reflect.getMetadata('method', handler) as RequestMethod | undefined;
        if (path === undefined || method === undefined) continue;
        const targets = [handler, controller];
        const isPublic = reflector.getAllAndOverride<boolean>(IS_PUBLIC, targets) === true;
        const roles = reflector.getAllAndOverride<string[] | undefined>(ROLES_KEY, targets);
        const withoutMfa = reflector.get<boolean>(ALLOW_WITHOUT_MFA, handler) === true;
        const access = isPublic ? 'public' : roles?.length ? `roles: ${[...roles].sort().join(', ')}${withoutMfa ? ' (allowed before MFA enrollment)' : ''}` : 'UNDECLARED';
        const fullPath = `/${[base, path].map((part) => part.replace(/^\/|\/$/g, '')).filter(Boolean).join('/')}`;
        routes.push({ method: RequestMethod[method], path: fullPath, access });
      }
    }
    return routes.sort((a, b) => (a.path === b.path ? a.method.localeCompare(b.method) : a.path.localeCompare(b.path)));
  }

  it('every route declares @Public() or @Roles', () => {
    const routes = declaredRoutes();
    expect(routes.length).toBeGreaterThan(20);
    expect(routes.filter((route) => route.access === 'UNDECLARED')).toEqual([]);
  });

  it('matches the reviewed snapshot of method, path and access', () => {
    expect(declaredRoutes().map((route) => `${route.method.padEnd(6)} ${route.path}  ->  ${route.access}`)).toMatchSnapshot();
  });

  it('refuses every non-public route without credentials (401), before any validation or lookup', async () => {
    for (const route of declaredRoutes().filter((item) => item.access !== 'public')) {
      const url = route.path.replace(/:\w+/g, '00000000-0000-4000-8000-000000000000');
      const response = await t.inject({ method: route.method as 'GET', url, payload: route.method === 'GET' || route.method === 'DELETE' ? undefined : {} });
      expect({ route: `${route.method} ${route.path}`, status: response.statusCode }).toEqual({ route: `${route.method} ${route.path}`, status: 401 });
      expect(response.headers['content-type']).toContain('application/problem+json');
    }
  });
});
