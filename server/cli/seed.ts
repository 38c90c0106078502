// npm run seed: the demo on-sale (idempotent). Runs migrations first so it works on a new database.
import { z } from 'zod';
import { seedDemo } from '../catalog/index.ts';
import { createPostgres, migrateUp } from '../store/index.ts';
import { cliLog, resolveServiceUrls } from './local-env.ts';

const { env, stop } = await resolveServiceUrls({ postgres: true, redis: false });
const sql = createPostgres({ url: z.string().parse(env['DATABASE_URL']), poolMax: 1, applicationName: 'boxoffice-seed' });
let code = 0;
try {
  await migrateUp(sql);
  const seed = await seedDemo(sql);
  cliLog.info(seed, seed.created ? 'demo on-sale seeded' : 'demo on-sale already present');
} catch (err) {
  cliLog.error({ err }, 'seeding failed');
  code = 1;
} finally {
  await sql.end({ timeout: 5 });
  await stop();
}
process.exit(code);
