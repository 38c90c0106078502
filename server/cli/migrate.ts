// npm run migrate -- up [target] | down [n] | status
import { z } from 'zod';
import { createPostgres, migrateDown, migrateUp, migrationStatus } from '../store/index.ts';
import { cliLog, resolveServiceUrls } from './local-env.ts';

const usage = 'usage: npm run migrate -- up [target-version] | down [steps] | status';
const args = z
  .tuple([z.enum(['up', 'down', 'status']), z.coerce.number().int().positive().optional()])
  .safeParse(process.argv.slice(2).length ? process.argv.slice(2) : ['up']);
if (!args.success) {
  process.stderr.write(`${usage}\n`);
  process.exit(2);
}
const [command, n] = args.data;

const { env, stop } = await resolveServiceUrls({ postgres: true, redis: false });
const url = z.string().min(1).parse(env['DATABASE_URL']);
const sql = createPostgres({ url, poolMax: 1, applicationName: 'boxoffice-migrate' });
let code = 0;
try {
  if (command === 'up') {
    const applied = await migrateUp(sql, n === undefined ? {} : { target: n });
    cliLog.info({ applied }, applied.length ? `applied ${applied.length} migration(s)` : 'database is up to date');
  } else if (command === 'down') {
    const reverted = await migrateDown(sql, { steps: n ?? 1 });
    cliLog.info({ reverted }, `reverted ${reverted.length} migration(s)`);
  } else {
    for (const m of await migrationStatus(sql)) {
      process.stdout.write(`${String(m.version).padStart(4, '0')} ${m.name.padEnd(30)} ${m.applied ? `applied ${m.appliedAt?.toISOString()}` : 'pending'}\n`);
    }
  }
} catch (err) {
  cliLog.error({ err }, 'migration failed');
  code = 1;
} finally {
  await sql.end({ timeout: 5 });
  await stop();
}
process.exit(code);
