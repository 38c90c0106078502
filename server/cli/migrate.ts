// npm run migrate -- up [target] | down [n] | status
import { z } from 'zod';
import { migrateDown, migrateUp, migrationStatus } from '../store/index.ts';
import { cliLog, runDatabaseTask } from './local-env.ts';

const usage = 'usage: npm run migrate -- up [target-version] | down [steps] | status';
const args = z
  .tuple([z.enum(['up', 'down', 'status']), z.coerce.number().int().positive().optional()])
  .safeParse(process.argv.slice(2).length ? process.argv.slice(2) : ['up']);
if (!args.success) {
  process.stderr.write(`${usage}\n`);
  process.exit(2);
}
const [command, n] = args.data;

await runDatabaseTask('migrate', async (sql) => {
  if (command === 'up') {
    const applied = await migrateUp(sql, n === undefined ? {} : { target: n });
    cliLog.info({ applied }, applied.length ? `applied ${applied.length} migration(s)` : 'database is up to date');
  } else if (command === 'down') {
    const reverted = await migrateDown(sql, { steps: n ?? 1 });
    cliLog.info({ reverted }, `reverted ${reverted.length} migration(s)`);
  } else {
    for (const m of await migrationStatus(sql)) {
      const state = m.applied ? `applied ${m.appliedAt?.toISOString()}` : 'pending';
      process.stdout.write(`${String(m.version).padStart(4, '0')} ${m.name.padEnd(30)} ${state}\n`);
    }
  }
});
