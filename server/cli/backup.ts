// npm run backup [-- --dir DIR --keep N]: a pg_dump of the database (the local one when
// DATABASE_URL is unset) into DIR (default .data/backups), keeping the newest N (default 7).
import { parseArgs } from 'node:util';
import { backupDatabase } from '../ops/backup.ts';
import { cliLog, runDatabaseTask } from './local-env.ts';

const { values } = parseArgs({ options: { dir: { type: 'string', default: process.env['BACKUP_DIR'] ?? '.data/backups' }, keep: { type: 'string', default: process.env['BACKUP_KEEP'] ?? '7' } } });
const keep = Number(values.keep);
if (!Number.isInteger(keep) || keep < 1) {
  process.stderr.write('--keep must be a positive integer\n');
  process.exit(2);
}
await runDatabaseTask('backup', async (_sql, url) => {
  const { file, removed } = await backupDatabase({ url, dir: values.dir, keep });
  cliLog.info({ file, removed }, 'backup written');
});
