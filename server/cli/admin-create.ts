// npm run admin:create -- email: bootstraps an admin (creating the account if needed). The admin
// then signs in with an emailed code; no password is ever printed or passed on the command line.
import { z } from 'zod';
import { emailSchema, makeAdmin } from '../identity/index.ts';
import { createPostgres, migrateUp } from '../store/index.ts';
import { cliLog, resolveServiceUrls } from './local-env.ts';

const parsed = emailSchema.safeParse(process.argv[2]);
if (!parsed.success || process.argv.length !== 3) {
  process.stderr.write('usage: npm run admin:create -- email@example.com\n');
  process.exit(2);
}

const { env, stop } = await resolveServiceUrls({ postgres: true, redis: false });
const sql = createPostgres({ url: z.string().parse(env['DATABASE_URL']), poolMax: 1, applicationName: 'boxoffice-admin' });
let code = 0;
try {
  await migrateUp(sql);
  const admin = await makeAdmin(sql, parsed.data);
  cliLog.info(
    { email: parsed.data, userId: admin.id },
    admin.created ? 'admin account created; sign in with an emailed code' : 'account is now admin (its sessions keep their old role until refresh)',
  );
} catch (err) {
  cliLog.error({ err }, 'could not create the admin');
  code = 1;
} finally {
  await sql.end({ timeout: 5 });
  await stop();
}
process.exit(code);
