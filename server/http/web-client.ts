// The buyer's web client (clients/web, built by `npm run build`) served at `/`: its index and
// hashed assets, with long caching for the hashed files. Without a build, `/` explains how to get
// one instead of failing.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { App } from './types.ts';

export async function registerWebClient(app: App, dir: string): Promise<void> {
  if (!existsSync(join(dir, 'index.html'))) {
    app.get('/', { config: { policy: 'public' } }, async (_request, reply) =>
      reply.type('text/plain').send('The web client is not built: run `npm run build` (npm start does it for you).\n'),
    );
    return;
  }
  await app.register(fastifyStatic, {
    root: dir,
    prefix: '/',
    wildcard: false,
    index: ['index.html'],
    setHeaders: (res, path) => {
      res.header('cache-control', path.startsWith(join(dir, 'assets')) ? 'public, max-age=31536000, immutable' : 'no-cache');
    },
  });
}
