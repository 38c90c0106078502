// Shared by `npm start` and `npm run cluster`: bring the database up to date and make sure the demo
// on-sale exists, over one short-lived connection.
import { seedDemo } from '../catalog/index.ts';
import { createPostgres, migrateUp } from '../store/index.ts';
import { cliLog } from './local-env.ts';

export async function migrateAndSeed(url: string, applicationName: string): Promise<void> {
  const sql = createPostgres({ url, poolMax: 1, applicationName });
  try {
    const applied = await migrateUp(sql);
    if (applied.length) cliLog.info({ applied }, 'migrations applied');
    const seed = await seedDemo(sql);
    cliLog.info({ slug: seed.slug }, seed.created ? 'demo on-sale seeded' : 'demo on-sale present');
  } finally {
    await sql.end({ timeout: 5 });
  }
}
