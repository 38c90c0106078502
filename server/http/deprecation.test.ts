import Fastify from 'fastify';
import { describe, expect, it } from 'vitest';
import { markDeprecated } from './deprecation.ts';
import type { App } from './types.ts';

describe('markDeprecated', () => {
  it('adds Deprecation, Sunset and Link to every route of the scope, and only that scope', async () => {
    const app = Fastify() as unknown as App;
    await app.register(
      (v0, _opts, done) => {
        markDeprecated(v0, {
          deprecatedAt: new Date('2027-01-01T00:00:00Z'),
          sunsetAt: new Date('2027-07-01T00:00:00Z'),
          link: 'https://example.test/docs/api-versioning',
        });
        v0.get('/things', () => ({ ok: true }));
        done();
      },
      { prefix: '/api/v0' },
    );
    app.get('/api/v1/things', () => ({ ok: true }));

    const old = await app.inject({ method: 'GET', url: '/api/v0/things' });
    expect(old.headers['deprecation']).toBe(`@${Date.parse('2027-01-01T00:00:00Z') / 1000}`);
    expect(old.headers['sunset']).toBe('Thu, 01 Jul 2027 00:00:00 GMT');
    expect(old.headers['link']).toBe('<https://example.test/docs/api-versioning>; rel="deprecation"; type="text/html"');

    const current = await app.inject({ method: 'GET', url: '/api/v1/things' });
    expect(current.headers['deprecation']).toBeUndefined();
    expect(current.headers['sunset']).toBeUndefined();
    await app.close();
  });

  it('refuses a sunset before the deprecation', () => {
    const app = Fastify() as unknown as App;
    expect(() =>
      markDeprecated(app, { deprecatedAt: new Date('2027-07-01'), sunsetAt: new Date('2027-01-01'), link: 'https://x.test' }),
    ).toThrow(/sunset/);
  });
});
