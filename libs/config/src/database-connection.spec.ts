import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { ConfigError, loadConfig, resolveDatabaseConnection } from './index';

/** Contract §10: DATABASE_PASSWORD_FILE overrides the URL's password; the password is never shown. */
describe('the database connection', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'db-password-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content);
    return path;
  };

  it('keeps the URL without its password, and the password apart', () => {
    const connection = loadConfig('scheduler', {
      DATABASE_URL: 'postgres://app:Url-S3cret@db:5432/valuation?sslmode=require',
    }).database.connection;
    expect(connection.url).toBe('postgres://app@db:5432/valuation?sslmode=require');
    expect(connection.hasPassword).toBe(true);
    expect(connection.connectionString()).toBe('postgres://app:Url-S3cret@db:5432/valuation?sslmode=require');
    expect(connection.database).toBe('valuation');
  });

  it('takes the password from DATABASE_PASSWORD_FILE over the URL, a final newline dropped', () => {
    const connection = loadConfig('calculator', {
      DATABASE_URL: 'postgres://app:old-password@db:5432/valuation?sslmode=verify-full&sslrootcert=/ca.pem',
      DATABASE_PASSWORD_FILE: file('pw', 'New p@ss:w/rd%41 \n'),
    }).database.connection;
    expect(connection.url).toBe('postgres://app@db:5432/valuation?sslmode=verify-full&sslrootcert=/ca.pem');
    const again = new URL(connection.connectionString());
    // Percent-encoded so node-postgres (which decodes it) gets every character back, spaces included.
    expect(decodeURIComponent(again.password)).toBe('New p@ss:w/rd%41 ');
    expect(again.username).toBe('app');
    expect(again.search).toBe('?sslmode=verify-full&sslrootcert=/ca.pem');
    expect(connection.connectionString()).not.toContain('old-password');
  });

  it('drops only one final line break (CRLF too)', () => {
    const read = (text: string) =>
      decodeURIComponent(
        new URL(resolveDatabaseConnection('postgres://a@h/d', 'f', () => text).connectionString()).password,
      );
    expect(read('pw\r\n')).toBe('pw');
    expect(read('pw\n\n')).toBe('pw\n');
    expect(read('  pw')).toBe('  pw');
  });

  it("moves node-postgres's ?password= out of the URL too (the file overrides it)", () => {
    const connection = resolveDatabaseConnection('postgres://a@h/d?password=Query-S3cret&sslmode=disable');
    expect(connection.url).toBe('postgres://a@h/d?sslmode=disable');
    expect(connection.connectionString()).toContain('Query-S3cret');
    const overridden = resolveDatabaseConnection('postgres://a@h/d?password=Query-S3cret', 'f', () => 'x');
    expect(overridden.connectionString()).toBe('postgres://a:x@h/d');
  });

  it('has no password when neither gives one', () => {
    const connection = loadConfig('scheduler', {}).database.connection;
    expect(connection.hasPassword).toBe(false);
    expect(connection.connectionString()).toBe('postgres://postgres@127.0.0.1:5432/valuation');
  });

  it('never shows the password in a logged or serialised config', () => {
    const config = loadConfig('scheduler', {
      DATABASE_URL: 'postgres://app:Url-S3cret@db:5432/valuation',
      DATABASE_PASSWORD_FILE: file('pw2', 'File-S3cret\n'),
    });
    for (const text of [JSON.stringify(config), inspect(config, { depth: 10, showHidden: true })]) {
      expect(text).not.toContain('S3cret');
      expect(text).toContain('postgres://app@db:5432/valuation');
    }
    expect(config.database.connection.withDatabase('postgres').connectionString()).toBe(
      'postgres://app:File-S3cret@db:5432/postgres',
    );
  });

  it.each([
    [
      'a missing file',
      () => join(dir, 'missing'),
      /^Invalid configuration: DATABASE_PASSWORD_FILE cannot be read \(ENOENT\): /,
    ],
    ['a directory', () => dir, /^Invalid configuration: DATABASE_PASSWORD_FILE cannot be read \(EISDIR\): /],
    [
      'an empty file',
      () => file('empty', '\n'),
      /^Invalid configuration: DATABASE_PASSWORD_FILE names an empty file: /,
    ],
  ])('refuses %s with one line naming the variable, never the content', (_what, path, message) => {
    let error: unknown;
    try {
      loadConfig('scheduler', {
        DATABASE_URL: 'postgres://app:Url-S3cret@db/v',
        DATABASE_PASSWORD_FILE: path(),
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const text = (error as Error).message;
    expect(text).toMatch(message);
    expect(text).not.toContain('\n');
    expect(text).not.toContain('S3cret');
  });
});
