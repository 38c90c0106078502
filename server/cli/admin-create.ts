// npm run admin:create -- email: bootstraps an admin (creating the account if needed). The admin
// then signs in with an emailed code; no password is ever printed or passed on the command line.
import { emailSchema, makeAdmin } from '../identity/index.ts';
import { migrateUp } from '../store/index.ts';
import { cliLog, runDatabaseTask } from './local-env.ts';

const parsed = emailSchema.safeParse(process.argv[2]);
if (!parsed.success || process.argv.length !== 3) {
  process.stderr.write('usage: npm run admin:create -- email@example.com\n');
  process.exit(2);
}
const email = parsed.data;

await runDatabaseTask('admin:create', async (sql) => {
  await migrateUp(sql);
  const admin = await makeAdmin(sql, email);
  cliLog.info(
    { email, userId: admin.id },
    admin.created ? 'admin account created; sign in with an emailed code' : 'account is now admin (its sessions keep their old role until refresh)',
  );
});
