// npm run restore -- FILE: restores a dump made by `npm run backup` into the database (the local
// one when DATABASE_URL is unset), replacing what it contains. Stop the servers first.
import { existsSync } from 'node:fs';
import { restoreDatabase } from '../ops/backup.ts';
import { cliLog, runDatabaseTask } from './local-env.ts';

const file = process.argv[2];
if (!file || !existsSync(file)) {
  process.stderr.write('usage: npm run restore -- <file.dump> (a file written by npm run backup)\n');
  process.exit(2);
}
await runDatabaseTask('restore', async (_sql, url) => {
  await restoreDatabase({ url, file });
  cliLog.info({ file }, 'restored');
});
