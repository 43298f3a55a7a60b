import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { loadConfig } from '@app/config';
import {
  connectionStringOf,
  DatabaseReadiness,
  dataSourceOptions,
  type PersistenceOptions,
} from '@app/persistence';
import { testDatabaseUrl } from './support/database';

const SECRET = 'File-S3cret pw';

/**
 * Contract §10 against the real server: the configuration's connection keeps `sslmode` and friends
 * of DATABASE_URL, and the password of DATABASE_PASSWORD_FILE reaches the driver of every kind of
 * connection the processes open (the pool, the readiness probe, the leader lease's plain client).
 * The local server offers no TLS (`SHOW ssl` is off) and trusts local connections, so: disable
 * connects, require is refused for want of SSL, and the password is checked as node-postgres sees it.
 */
describe('the database connection on the real server', () => {
  let dir: string;
  let passwordFile: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'db-connection-'));
    passwordFile = join(dir, 'password');
    writeFileSync(passwordFile, `${SECRET}\n`);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  /** The configuration of a process with `query` appended to the test database's URL. */
  const connectionWith = (query: string, password = 'url-password') => {
    const url = new URL(testDatabaseUrl());
    url.password = password;
    url.search = query;
    return loadConfig('scheduler', { DATABASE_URL: url.toString(), DATABASE_PASSWORD_FILE: passwordFile })
      .database.connection;
  };

  const readiness = (connection: PersistenceOptions['connection']) =>
    new DatabaseReadiness({ connection } as PersistenceOptions);

  it('the server offers no TLS here', async () => {
    const client = new Client({ connectionString: testDatabaseUrl() });
    await client.connect();
    try {
      expect((await client.query<{ ssl: string }>('SHOW ssl')).rows[0].ssl).toBe('off');
    } finally {
      await client.end();
    }
  });

  it('connects with sslmode=disable: pool, readiness probe and plain client, the file password given', async () => {
    const connection = connectionWith('?sslmode=disable&application_name=kept-from-url');
    expect(connection.url).not.toContain('url-password');

    const client = new Client({ connectionString: connection.connectionString() });
    // What node-postgres will authenticate with, and the URL's own settings kept.
    expect(client.password).toBe(SECRET);
    expect(client.ssl).toBe(false);
    await client.connect();
    try {
      const { rows } = await client.query<{ ssl: boolean; name: string }>(
        `SELECT ssl, current_setting('application_name') AS name FROM pg_stat_ssl WHERE pid = pg_backend_pid()`,
      );
      expect(rows[0]).toEqual({ ssl: false, name: 'kept-from-url' });
    } finally {
      await client.end();
    }

    await expect(readiness(connection).check()).resolves.toBeUndefined();

    const ds = await new DataSource(dataSourceOptions(connection, 1)).initialize();
    try {
      expect(await ds.query('SELECT 1 AS one')).toEqual([{ one: 1 }]);
      const [pooled] = (await (
        ds.driver as unknown as { obtainMasterConnection(): Promise<[Client, () => void]> }
      ).obtainMasterConnection()) as [Client, () => void];
      expect(pooled.password).toBe(SECRET);
      (pooled as unknown as { release(): void }).release();
    } finally {
      await ds.destroy();
    }
  });

  it('refuses sslmode=require on a server without TLS, naming SSL and never the password', async () => {
    const connection = connectionWith('?sslmode=require');
    const failures: Error[] = [];
    const client = new Client({ connectionString: connectionStringOf(connection) });
    client.on('error', () => undefined);
    await client.connect().then(
      () => client.end(),
      (error: Error) => failures.push(error),
    );
    await readiness(connection)
      .check()
      .catch((error: Error) => failures.push(error));
    await new DataSource(dataSourceOptions(connection, 1)).initialize().then(
      (ds) => ds.destroy(),
      (error: Error) => failures.push(error),
    );
    expect(failures).toHaveLength(3);
    for (const error of failures) {
      expect(error.message).toMatch(/SSL/);
      expect(`${error.message} ${error.stack ?? ''} ${JSON.stringify(error)}`).not.toContain('S3cret');
    }
  });
});
