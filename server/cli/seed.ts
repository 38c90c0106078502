// npm run seed: the demo on-sale (idempotent). Runs migrations first so it works on a new database.
import { seedDemo } from '../catalog/index.ts';
import { migrateUp } from '../store/index.ts';
import { cliLog, runDatabaseTask } from './local-env.ts';

await runDatabaseTask('seed', async (sql) => {
  await migrateUp(sql);
  const seed = await seedDemo(sql);
  cliLog.info(seed, seed.created ? 'demo on-sale seeded' : 'demo on-sale already present');
});
