// OpenAPI generated from the zod route schemas; the UI at /docs is served only when API_DOCS is on
// (never in production: config refuses it).
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { App } from './types.ts';
import { jsonSchemaTransform } from 'fastify-type-provider-zod';

export interface DocsOptions {
  version: string;
  publicUrl: string;
}

/** Registers the generator (always: it also validates schemas) and, if asked, the UI. Returns its CSP needs. */
export async function registerDocs(
  app: App,
  options: DocsOptions & { ui: boolean },
): Promise<{ script: string[]; style: string[] } | undefined> {
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'boxoffice API',
        version: options.version,
        description: 'Real-time ticket booking: catalog, holds, purchases, tickets, scanners.',
      },
      servers: [{ url: options.publicUrl }],
    },
    transform: jsonSchemaTransform,
  });
  if (!options.ui) return undefined;
  await app.register(swaggerUi, { routePrefix: '/docs', staticCSP: false });
  return app.swaggerCSP;
}
