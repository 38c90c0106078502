// The one mapper from thrown errors to answers: a store that is away (PostgreSQL or Redis down,
// restarting, refusing connections) is a 503 the client may retry, never a 500. The error shapes
// are the drivers' own (postgres.js's PostgresError and connection errors, ioredis's errors).
import { MaxRetriesPerRequestError } from 'ioredis/built/errors/index.js';
import postgres from 'postgres';
import { describe, expect, it } from 'vitest';
import { AppError } from '../errors.ts';
import { isStoreUnavailable, toAppError } from './error-handler.ts';

/** What postgres.js builds for a lost or refused connection (src/errors.js, `connection`). */
function connectionError(code: string): Error {
  return Object.assign(new Error(`write ${code} 127.0.0.1:5432`), { code, errno: code, address: '127.0.0.1', port: 5432 });
}

/** What Node's net module gives postgres.js (and ioredis) when a connect or write fails. */
function socketError(code: string): Error {
  return Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code, errno: -111, syscall: 'connect', address: '127.0.0.1', port: 5432 });
}

const serverError = (code: string, message = 'refused') => new postgres.PostgresError({ code, message, severity: 'FATAL' } as never);

describe('toAppError: a store that is away is a retryable 503', () => {
  const unavailable: [string, unknown][] = [
    ...['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT'].map((code): [string, unknown] => [`socket ${code}`, socketError(code)]),
    ...['CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED', 'CONNECT_TIMEOUT'].map((code): [string, unknown] => [`postgres.js ${code}`, connectionError(code)]),
    ['SQLSTATE 08006 connection failure', serverError('08006')],
    ['SQLSTATE 08001 cannot establish connection', serverError('08001')],
    ['SQLSTATE 57P01 admin shutdown', serverError('57P01', 'terminating connection due to administrator command')],
    ['SQLSTATE 57P02 crash shutdown', serverError('57P02', 'terminating connection because of crash of another server process')],
    ['SQLSTATE 57P03 cannot connect now', serverError('57P03', 'the database system is starting up')],
    ['SQLSTATE 53300 too many connections', serverError('53300', 'sorry, too many clients already')],
    ['ioredis MaxRetriesPerRequestError', new MaxRetriesPerRequestError(1)],
    ['ioredis connection closed', new Error('Connection is closed.')],
    ['ioredis offline queue off', new Error("Stream isn't writeable and enableOfflineQueue options is false")],
    ['ioredis cluster not ready', new Error("Cluster isn't ready and enableOfflineQueue options is false")],
    ['wrapped in a cause', new Error('hold failed', { cause: socketError('ECONNREFUSED') })],
    ['an AggregateError of tries', new AggregateError([socketError('ECONNREFUSED'), socketError('ECONNREFUSED')], 'connect failed')],
  ];
  for (const [name, err] of unavailable) {
    it(name, () => {
      expect(isStoreUnavailable(err)).toBe(true);
      const mapped = toAppError(err);
      expect(mapped.status).toBe(503);
      expect(mapped.code).toBe('service_unavailable');
      expect(mapped.cause).toBe(err);
      // The body names no driver, host or port.
      expect(JSON.stringify(mapped.toBody())).not.toMatch(/127\.0\.0\.1|5432|ECONN|CONNECTION_|ioredis|enableOfflineQueue|SQLSTATE/);
      expect(mapped.details).toEqual({ retryAfterSeconds: 2 });
    });
  }

  it('leaves faults and answers alone', () => {
    expect(toAppError(new Error('db password is hunter2')).status).toBe(500);
    expect(toAppError(serverError('42P01', 'relation "nope" does not exist')).status).toBe(500);
    // A PostgresError's code that only looks like a socket's name is still the server's answer.
    expect(toAppError(serverError('23505')).code).toBe('conflict');
    expect(toAppError(serverError('40001')).code).toBe('service_unavailable');
    // A code of another kind of error that starts with 08 is not a connection exception.
    expect(isStoreUnavailable(Object.assign(new Error('x'), { code: '08006' }))).toBe(false);
    expect(isStoreUnavailable(new Error('connection is closed'))).toBe(false);
    expect(isStoreUnavailable(null)).toBe(false);
    expect(isStoreUnavailable('ECONNREFUSED')).toBe(false);
    const own = new AppError('conflict', 'taken');
    expect(toAppError(own)).toBe(own);
  });

  it('stops following causes after a few levels (a cycle ends)', () => {
    const a = new Error('a') as Error & { cause?: unknown };
    const b = new Error('b', { cause: a });
    a.cause = b;
    expect(isStoreUnavailable(a)).toBe(false);
  });
});
