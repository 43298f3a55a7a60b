import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** `viewer`: the GET routes of the operators' API; `operator`: GET and POST (contract §9). */
export type OperatorRole = 'viewer' | 'operator';

/**
 * Someone allowed to call the operators' API. Only the SHA-256 digest of the token is kept, so the
 * token itself is in no object a log line, an error or a heap dump of the config could show.
 */
export interface OperatorPrincipal {
  name: string;
  role: OperatorRole;
  /** SHA-256 of the token (32 bytes). */
  tokenDigest: Buffer;
}

/** A token's digest, as the store compares them. */
export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** The shortest token accepted: `openssl rand -hex 32` gives 64 characters. */
export const MIN_TOKEN_LENGTH = 16;

const NAME = /^[A-Za-z0-9._@-]{1,100}$/;
const TOKEN = /^[\x21-\x7e]+$/;

/**
 * Why an entry was refused. Messages name the entry by position only, never by its content: a
 * malformed entry may be nothing but a token (a missing `name:role:` prefix).
 */
export class OperatorTokenError extends Error {
  constructor(
    readonly variable: 'OPERATOR_TOKENS' | 'OPERATOR_TOKENS_FILE',
    detail: string,
  ) {
    super(detail);
  }
}

function parseEntry(
  entry: string,
  variable: OperatorTokenError['variable'],
  where: string,
): OperatorPrincipal {
  const first = entry.indexOf(':');
  const second = first < 0 ? -1 : entry.indexOf(':', first + 1);
  if (second < 0) throw new OperatorTokenError(variable, `${where} must be name:role:token`);
  const name = entry.slice(0, first).trim();
  const role = entry.slice(first + 1, second).trim();
  const token = entry.slice(second + 1).trim();
  if (!NAME.test(name))
    throw new OperatorTokenError(variable, `${where} has a bad name (letters, digits, . _ @ - only)`);
  if (role !== 'viewer' && role !== 'operator')
    throw new OperatorTokenError(variable, `${where} has a bad role (viewer or operator)`);
  if (!TOKEN.test(token))
    throw new OperatorTokenError(variable, `${where} has a bad token (printable ASCII, no spaces)`);
  if (token.length < MIN_TOKEN_LENGTH)
    throw new OperatorTokenError(
      variable,
      `${where} has a token shorter than ${MIN_TOKEN_LENGTH} characters (try openssl rand -hex 32)`,
    );
  return { name, role, tokenDigest: tokenDigest(token) };
}

/**
 * The principals of `OPERATOR_TOKENS` (comma-separated `name:role:token`) and of the file named by
 * `OPERATOR_TOKENS_FILE` (one `name:role:token` per line, `#` comments and blank lines ignored). Both
 * may be set (e.g. while rotating); a token given twice is refused, since it could carry two roles.
 */
export function parseOperatorTokens(
  inline: string,
  file: string,
  read: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): OperatorPrincipal[] {
  const principals: OperatorPrincipal[] = [];
  const seen = new Map<string, string>();
  const add = (principal: OperatorPrincipal, variable: OperatorTokenError['variable'], where: string) => {
    const key = principal.tokenDigest.toString('hex');
    const earlier = seen.get(key);
    if (earlier) throw new OperatorTokenError(variable, `${where} repeats the token of ${earlier}`);
    seen.set(key, `${variable} ${where}`);
    principals.push(principal);
  };

  if (inline.trim() !== '') {
    inline.split(',').forEach((entry, i) => {
      const where = `entry ${i + 1}`;
      add(parseEntry(entry, 'OPERATOR_TOKENS', where), 'OPERATOR_TOKENS', where);
    });
  }
  if (file.trim() !== '') {
    let text: string;
    try {
      text = read(file);
    } catch (error) {
      const code = (error as { code?: unknown } | null)?.code;
      throw new OperatorTokenError(
        'OPERATOR_TOKENS_FILE',
        `cannot be read (${typeof code === 'string' ? code : 'unreadable'}): ${JSON.stringify(file)}`,
      );
    }
    text.split(/\r?\n/).forEach((raw, i) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const where = `line ${i + 1}`;
      add(parseEntry(line, 'OPERATOR_TOKENS_FILE', where), 'OPERATOR_TOKENS_FILE', where);
    });
  }
  return principals;
}
