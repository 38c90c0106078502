// The store clock against a real PostgreSQL: the offset it measures, with this process's clock as
// it is and with it made to run fast, what it logs, and how it keeps going when the database is away.
import pino from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createTestDatabase, type TestDatabase } from '../../test/helpers/databases.ts';
import { createStoreClock, fixedOffsetClock } from './clock.ts';
import { createPostgres } from './postgres.ts';

interface Line {
  level: number;
  msg: string;
  offsetMs?: number;
}

function recordingLog() {
  const lines: Line[] = [];
  const log = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Line) });
  return { log, lines };
}

const realNow = Date.now.bind(Date);

describe('store clock', () => {
  let db: TestDatabase;

  beforeAll(async () => {
    db = await createTestDatabase({ migrated: false });
  });
  afterAll(async () => {
    await db.drop();
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  const databaseNow = async () => Number((await db.sql<{ ms: string }[]>`select (extract(epoch from clock_timestamp()) * 1000)::float8::text as ms`)[0]!.ms);

  it('measures next to no offset when this machine and the database share a clock', async () => {
    const { log, lines } = recordingLog();
    const clock = createStoreClock({ sql: db.sql, log });
    const offset = await clock.sync();
    expect(Math.abs(offset)).toBeLessThan(50);
    expect(clock.offsetMs()).toBe(offset);
    const before = await databaseNow();
    const now = clock.now();
    const after = await databaseNow();
    expect(now).toBeGreaterThanOrEqual(before - 50);
    // Never ahead of the database: what it says has passed has passed.
    expect(now).toBeLessThanOrEqual(after);
    expect(lines.filter((l) => l.level >= 40)).toEqual([]);
  });

  it("reads the database's time when this node's clock runs 5 s fast, and warns once", async () => {
    const { log, lines } = recordingLog();
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() + 5_000);
    const clock = createStoreClock({ sql: db.sql, log });
    const offset = await clock.sync();
    expect(offset).toBeGreaterThan(-5_050);
    expect(offset).toBeLessThan(-4_950);
    // The node's own reading is 5 s ahead; the clock's is the database's, never ahead of it.
    const now = clock.now();
    const after = await databaseNow();
    expect(now).toBeLessThanOrEqual(after);
    expect(after - now).toBeLessThan(50);
    await clock.sync();
    const warnings = lines.filter((l) => l.level === 40);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.offsetMs).toBe(offset);

    // Back in step: the offset follows, and the node says so.
    vi.mocked(Date.now).mockImplementation(realNow);
    expect(Math.abs(await clock.sync())).toBeLessThan(50);
    expect(lines.at(-1)).toMatchObject({ level: 30, msg: "this node's clock is back in step with the database's" });
  });

  it('measures again on its own while it runs', async () => {
    const { log } = recordingLog();
    const clock = createStoreClock({ sql: db.sql, log, refreshMs: 50 });
    await clock.start();
    try {
      expect(Math.abs(clock.offsetMs())).toBeLessThan(50);
      vi.spyOn(Date, 'now').mockImplementation(() => realNow() - 3_000);
      await expect.poll(() => clock.offsetMs(), { timeout: 5_000 }).toBeGreaterThan(2_950);
      expect(clock.offsetMs()).toBeLessThan(3_050);
    } finally {
      clock.close();
    }
  });

  it('keeps the last offset when no round trip was fast enough to trust', async () => {
    const { log } = recordingLog();
    // Every round trip takes longer than 0 ms: the first measurement is taken (there is no other),
    // the next ones are not.
    const clock = createStoreClock({ sql: db.sql, log, maxRoundTripMs: 0 });
    const first = await clock.sync();
    vi.spyOn(Date, 'now').mockImplementation(() => realNow() + 5_000);
    expect(await clock.sync()).toBe(first);
    expect(clock.offsetMs()).toBe(first);
  });

  it('starts without the database, on the last offset it had, and says why', async () => {
    const { log, lines } = recordingLog();
    const away = createPostgres({ url: 'postgres://nobody@127.0.0.1:1/none', poolMax: 1 });
    const clock = createStoreClock({ sql: away, log });
    try {
      await clock.start();
      expect(clock.offsetMs()).toBe(0);
      expect(Math.abs(clock.now() - realNow())).toBeLessThan(50);
      expect(lines.find((l) => l.level === 40)?.msg).toBe('could not measure the clock offset to the database; keeping the last one');
    } finally {
      clock.close();
      await away.end({ timeout: 1 });
    }
  });

  it('a fixed offset (tests, no database) is the local clock moved by that much', () => {
    const clock = fixedOffsetClock(-1_500);
    expect(clock.offsetMs()).toBe(-1_500);
    expect(Math.abs(clock.now() - (realNow() - 1_500))).toBeLessThan(20);
  });
});
