import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import Sqlite from 'better-sqlite3';
import { ReplyError } from 'ioredis';
import pg from 'pg';
import { isAmqpOutage, isMemcachedOutage, isNetworkOutage, isPostgresOutage, isRedisOutage, isSqliteOutage, translateOutage } from '../../src/adapters/outage.js';
import { AppError, conflict, unavailable } from '../../src/errors.js';

/** What node's net module raises for a refused or dropped socket. */
const socketError = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code, errno: -1, syscall: 'connect' });
/** A PostgreSQL error as node-postgres raises it, with its SQLSTATE. */
const pgError = (code: string, message = 'server error') => Object.assign(new pg.DatabaseError(message, 0, 'error'), { code });

describe('outage classification', () => {
  it('socket errors are outages of every networked dependency', () => {
    for (const code of ['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH']) {
      assert.equal(isNetworkOutage(socketError(code)), true, code);
      assert.equal(isPostgresOutage(socketError(code)), true, code);
      assert.equal(isRedisOutage(socketError(code)), true, code);
    }
    assert.equal(isNetworkOutage(socketError('ENOENT')), false);
    assert.equal(isNetworkOutage(new Error('plain')), false);
  });

  it('looks through causes and AggregateErrors (a host name with several addresses)', () => {
    const aggregate = new AggregateError([socketError('ECONNREFUSED'), socketError('ECONNREFUSED')], 'connect failed');
    assert.equal(isPostgresOutage(aggregate), true);
    assert.equal(isRedisOutage(new Error('wrapped', { cause: socketError('ECONNRESET') })), true);
    const cyclic: Error & { cause?: unknown } = new Error('cycle');
    cyclic.cause = cyclic;
    assert.equal(isPostgresOutage(cyclic), false);
  });

  it('PostgreSQL: SQLSTATE classes 08, 53, 57 and 58, serialization failures and deadlocks are outages', () => {
    for (const code of ['08006', '08001', '53300', '53100', '57P01', '57P02', '57P03', '57014', '58030', '40001', '40P01']) {
      assert.equal(isPostgresOutage(pgError(code)), true, code);
    }
  });

  it('PostgreSQL: programming errors and unexpected constraints are not', () => {
    for (const code of ['42601', '42P01', '23505', '23503', '22P02', '40002', '25P02']) {
      assert.equal(isPostgresOutage(pgError(code)), false, code);
    }
    assert.equal(isPostgresOutage(new TypeError("Cannot read properties of undefined (reading 'id')")), false);
  });

  it("PostgreSQL: node-postgres' and pg-pool's own outage messages are outages", () => {
    for (const message of [
      'Connection terminated unexpectedly',
      'Connection terminated due to connection timeout',
      'Connection terminated',
      'timeout exceeded when trying to connect',
      'Query read timeout',
      'Client has encountered a connection error and is not queryable',
      'Client was closed and is not queryable',
    ]) {
      assert.equal(isPostgresOutage(new Error(message)), true, message);
    }
    assert.equal(isPostgresOutage(new Error('syntax error at or near "SELEC"')), false);
  });

  it('SQLite: busy, locked, I/O, full and cannot-open codes are outages; constraints and misuse are not', () => {
    for (const code of ['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_LOCKED', 'SQLITE_IOERR', 'SQLITE_IOERR_WRITE', 'SQLITE_IOERR_FSYNC', 'SQLITE_FULL', 'SQLITE_CANTOPEN', 'SQLITE_READONLY_RECOVERY']) {
      assert.equal(isSqliteOutage(new Sqlite.SqliteError('database is locked', code)), true, code);
    }
    for (const code of ['SQLITE_CONSTRAINT_UNIQUE', 'SQLITE_ERROR', 'SQLITE_MISUSE', 'SQLITE_CORRUPT', 'SQLITE_READONLY']) {
      assert.equal(isSqliteOutage(new Sqlite.SqliteError('no', code)), false, code);
    }
    // As it crosses from the store thread: a plain Error carrying the code.
    assert.equal(isSqliteOutage(Object.assign(new Error('database is locked'), { name: 'SqliteError', code: 'SQLITE_BUSY' })), true);
    // "SQLITE_BUSYX" is not the BUSY family.
    assert.equal(isSqliteOutage(new Sqlite.SqliteError('no', 'SQLITE_BUSYX')), false);
  });

  it("Redis: ioredis' closed connection, timeouts, retries exhausted and refused offline queue are outages", () => {
    for (const message of ['Connection is closed.', 'Command timed out', "Stream isn't writeable and enableOfflineQueue options is false", 'Command aborted due to connection close']) {
      assert.equal(isRedisOutage(new Error(message)), true, message);
    }
    const retries = Object.assign(new Error('Reached the max retries per request limit (which is 2).'), { name: 'MaxRetriesPerRequestError' });
    assert.equal(isRedisOutage(retries), true);
  });

  it('Redis: "not now" replies are outages, wrong commands are not', () => {
    for (const message of ['LOADING Redis is loading the dataset in memory', 'BUSY Redis is busy running a script', 'READONLY You can\'t write against a read only replica.', 'OOM command not allowed when used memory > \'maxmemory\'.', 'MASTERDOWN Link with MASTER is down']) {
      assert.equal(isRedisOutage(new ReplyError(message)), true, message);
    }
    for (const message of ['ERR wrong number of arguments for \'get\' command', 'WRONGTYPE Operation against a key holding the wrong kind of value', 'NOSCRIPT No matching script']) {
      assert.equal(isRedisOutage(new ReplyError(message)), false, message);
    }
  });

  it('PostgreSQL: a pooler refusing startup parameters (08P01) is a setting to fix, not an outage', () => {
    const refused = Object.assign(new Error('unsupported startup parameter: statement_timeout'), { code: '08P01' });
    assert.equal(isPostgresOutage(refused), false);
    assert.equal(isPostgresOutage(Object.assign(new Error('protocol violation'), { code: '08P01' })), true);
  });

  it('memcached: memjs timeouts, no server left, sockets and "not now" replies are outages; a value too large is not', () => {
    for (const message of ['socket timed out connecting to server.', 'socket timed out waiting on response.', 'No servers available', 'MemJS GET: Temporary failure', 'MemJS SET: Out of memory', 'MemJS DELETE: Busy']) {
      assert.equal(isMemcachedOutage(new Error(message)), true, message);
    }
    assert.equal(isMemcachedOutage(socketError('ECONNREFUSED')), true);
    for (const message of ['MemJS SET: Value too large', 'MemJS GET: Invalid arguments', 'some bug']) assert.equal(isMemcachedOutage(new Error(message)), false, message);
  });

  it('an error already translated stays an outage', () => {
    const error = unavailable('The store thread stopped; retry.');
    assert.equal(isPostgresOutage(error), true);
    assert.equal(isSqliteOutage(error), true);
    assert.equal(isRedisOutage(error), true);
    assert.equal(isAmqpOutage(error), true);
  });

  it('RabbitMQ: sockets, a connection forced closed, and calls on a channel or connection that went are outages', () => {
    const amqpError = (message: string, code?: number) => Object.assign(new Error(message), code === undefined ? {} : { code });
    const illegal = (message: string) => Object.assign(new Error(message), { name: 'IllegalOperationError' });
    for (const error of [
      socketError('ECONNREFUSED'),
      socketError('ECONNRESET'),
      amqpError('Connection closed: 320 (CONNECTION-FORCED) with message "CONNECTION_FORCED - broker forced connection closure with reason \'shutdown\'"', 320),
      amqpError('Channel closed by server: 541 (INTERNAL-ERROR)', 541),
      amqpError('Connection closed: 506 (RESOURCE-ERROR)', 506),
      illegal('Channel closed'),
      illegal('Channel closing'),
      illegal('Connection closing'),
      illegal('Connection closed (Error: Heartbeat timeout)'),
      amqpError('channel closed'),
      amqpError('Heartbeat timeout'),
      amqpError('Unexpected close'),
      amqpError('Socket closed abruptly during opening handshake'),
      amqpError('connect ETIMEDOUT'),
      amqpError('message nacked'),
    ]) {
      assert.equal(isAmqpOutage(error), true, error.message);
    }
  });

  it('RabbitMQ: refusals of a wrong request are not', () => {
    const amqpError = (message: string, code: number) => Object.assign(new Error(message), { code });
    for (const error of [
      amqpError('Operation failed: QueueDeclare; 404 (NOT-FOUND) with message "NOT_FOUND - no queue \'x\' in vhost \'/\'"', 404),
      amqpError('Operation failed: QueueDeclare; 406 (PRECONDITION-FAILED) with message "PRECONDITION_FAILED - inequivalent arg \'x-message-ttl\'"', 406),
      amqpError('Handshake terminated by server: 403 (ACCESS-REFUSED)', 403),
      amqpError('Connection closed: 530 (NOT-ALLOWED)', 530),
      new Error('plain'),
    ]) {
      assert.equal(isAmqpOutage(error), false, error.message);
    }
  });
});

describe('translateOutage', () => {
  it('turns an outage into unavailable with a Retry-After and keeps the original as its cause', () => {
    const original = pgError('57P01', 'terminating connection due to administrator command');
    const translated = translateOutage(original, isPostgresOutage, 'The database is unavailable; retry shortly.');
    assert.ok(translated instanceof AppError);
    assert.equal(translated.code, 'unavailable');
    assert.equal(translated.status, 503);
    assert.equal(translated.retryAfterSeconds, 1);
    assert.equal(translated.message, 'The database is unavailable; retry shortly.');
    assert.equal(translated.cause, original);
    // The client sees the message only, never the driver's words.
    assert.deepEqual(translated.toBody(), { error: { code: 'unavailable', message: 'The database is unavailable; retry shortly.' } });
  });

  it('leaves programming errors and domain errors as they are', () => {
    const syntax = pgError('42601', 'syntax error');
    assert.equal(translateOutage(syntax, isPostgresOutage, 'x'), syntax);
    const taken = conflict('That username is taken.');
    assert.equal(translateOutage(taken, isPostgresOutage, 'x'), taken);
  });
});
