import { readFileSync } from 'node:fs';

/**
 * Where and as whom the processes connect to PostgreSQL (contract §10), resolved once from
 * `DATABASE_URL` and `DATABASE_PASSWORD_FILE`. `url` is the URL without its password, its query string
 * (`sslmode` and friends) kept, so it may be shown; the password sits in a private field that neither
 * `JSON.stringify` nor `util.inspect` (a logged config object) shows. Every connection of the apps and
 * the migration tool is built from {@link connectionString}, never from the raw variable.
 */
export class DatabaseConnection {
  readonly #password: string | undefined;

  constructor(
    /** `DATABASE_URL` without its password: safe for a log line. */
    readonly url: string,
    password: string | undefined,
  ) {
    this.#password = password;
  }

  /** Whether a password is given (in the URL or the file); the password itself is never exposed here. */
  get hasPassword(): boolean {
    return this.#password !== undefined;
  }

  /** The database the URL names. */
  get database(): string {
    return decodeURIComponent(new URL(this.url).pathname.slice(1));
  }

  /**
   * The connection string node-postgres and TypeORM connect with: {@link url} with the password put
   * back. It carries the secret: hand it to a driver, never to a log line or an error.
   */
  connectionString(): string {
    if (this.#password === undefined) return this.url;
    const url = new URL(this.url);
    url.password = encodeURIComponent(this.#password);
    return url.toString();
  }

  /** The same server and credentials, another database (the migration tool creates its database so). */
  withDatabase(name: string): DatabaseConnection {
    const url = new URL(this.url);
    url.pathname = `/${encodeURIComponent(name)}`;
    return new DatabaseConnection(url.toString(), this.#password);
  }

  toJSON(): { url: string } {
    return { url: this.url };
  }
}

/** `DATABASE_PASSWORD_FILE` could not be used; the message never contains the file's content. */
export class DatabasePasswordFileError extends Error {
  readonly variable = 'DATABASE_PASSWORD_FILE';
}

/**
 * `databaseUrl` split into the URL without its password and the password, which `passwordFile` (the
 * file's content, a final newline dropped) overrides when given. node-postgres also reads a
 * `?password=` query parameter, ahead of the URL's own: it is moved out of the URL the same way.
 */
export function resolveDatabaseConnection(
  databaseUrl: string,
  passwordFile = '',
  read: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): DatabaseConnection {
  const url = new URL(databaseUrl);
  let password: string | undefined;
  if (url.password !== '') password = decodeURIComponent(url.password);
  url.password = '';
  const queryPassword = url.searchParams.get('password');
  if (queryPassword !== null) {
    if (queryPassword !== '') password = queryPassword;
    url.searchParams.delete('password');
  }
  if (passwordFile !== '') password = readPasswordFile(passwordFile, read);
  return new DatabaseConnection(url.toString(), password);
}

function readPasswordFile(path: string, read: (path: string) => string): string {
  let text: string;
  try {
    text = read(path);
  } catch (error) {
    const code = (error as { code?: unknown } | null)?.code;
    throw new DatabasePasswordFileError(
      `cannot be read (${typeof code === 'string' ? code : 'unreadable'}): ${JSON.stringify(path)}`,
    );
  }
  const password = text.replace(/\r?\n$/, '');
  if (password === '') throw new DatabasePasswordFileError(`names an empty file: ${JSON.stringify(path)}`);
  return password;
}
