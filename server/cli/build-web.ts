// Builds the buyer's web client (clients/web -> clients/web/dist) with Vite, for `npm start` and
// the browser tests; `npm run build` does the same from the command line.
import { fileURLToPath } from 'node:url';

export async function buildWebClient(): Promise<void> {
  const { build } = await import('vite');
  await build({ configFile: fileURLToPath(new URL('../../clients/web/vite.config.ts', import.meta.url)), logLevel: 'warn' });
}
