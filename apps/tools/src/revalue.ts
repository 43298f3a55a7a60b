import { userInfo } from 'node:os';
import { parseArgs } from 'node:util';
import { DataSource } from 'typeorm';
import { loadConfigOrExit } from '@app/config';
import {
  REVALUATION_AUDIT_ACTION,
  revaluationAuditTarget,
  type RevaluationRequestBody,
  revaluationRequestSchema,
} from '@app/messaging';
import {
  AdminStatementLimit,
  type AuditEntry,
  dataSourceOptions,
  OperatorAuditRepository,
  RevaluationsRepository,
} from '@app/persistence';

export const REVALUE_USAGE =
  'npm run revalue -- --portfolio P | --security S (or both) --from YYYY-MM-DD --to YYYY-MM-DD --reason "..."';

/** A bad argument: one line on stderr, exit code 2. */
export class UsageError extends Error {}

/** Each flag and the request field it fills (the body of `POST /revaluations`). */
const FLAGS = {
  portfolio: 'portfolio_id',
  security: 'security_id',
  from: 'from',
  to: 'to',
  reason: 'reason',
} as const;
const FLAG_OF: Record<string, string> = Object.fromEntries(
  Object.entries(FLAGS).map(([flag, field]) => [field, `--${flag}`]),
);

/** The request the arguments make, validated by the HTTP route's schema, or a UsageError. */
export function parseRevalueArgs(argv: string[]): RevaluationRequestBody {
  let values: Partial<Record<keyof typeof FLAGS, string>>;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        portfolio: { type: 'string' },
        security: { type: 'string' },
        from: { type: 'string' },
        to: { type: 'string' },
        reason: { type: 'string' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    throw new UsageError((error instanceof Error ? error.message : String(error)).split('\n')[0]);
  }
  const body = Object.fromEntries(
    Object.entries(FLAGS)
      .filter(([flag]) => values[flag as keyof typeof FLAGS] !== undefined)
      .map(([flag, field]) => [field, values[flag as keyof typeof FLAGS]]),
  );
  const parsed = revaluationRequestSchema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  const field = issue.path.length ? String(issue.path[0]) : '';
  // The schema speaks of the HTTP body's fields; the command of its flags.
  const message = issue.message.replace(/\b(portfolio_id|security_id)\b/g, (f) => FLAG_OF[f] ?? f);
  throw new UsageError(field ? `${FLAG_OF[field] ?? field}: ${message}` : message);
}

/** Who runs the command, for `requested_by` and the audit: `cli:<os user>`. */
export function cliPrincipal(): string {
  let name: string | undefined;
  try {
    name = userInfo().username;
  } catch {
    name = process.env.USER ?? process.env.LOGNAME;
  }
  return `cli:${name || 'unknown'}`;
}

/**
 * `npm run revalue`: starts a revaluation for operators without HTTP access to the scheduler, through
 * the route's own schema and `RevaluationsRepository.request`, audited in `operator_audit` like
 * `POST /revaluations` (action `revaluations.create`, the same target, role operator, principal
 * `cli:<os user>`). Fail closed as the route: the audit row is written first, or nothing is done.
 * The exit code: 0 started, 2 bad argument (one line on stderr, nothing written).
 */
export async function revalue(argv: string[]): Promise<number> {
  let body: RevaluationRequestBody;
  try {
    body = parseRevalueArgs(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    process.stderr.write(`revalue: ${error.message} (usage: ${REVALUE_USAGE})\n`);
    return 2;
  }
  const config = loadConfigOrExit('scheduler');
  const ds = await new DataSource(
    dataSourceOptions(config.database.connection, 2, config.database),
  ).initialize();
  try {
    const limit = new AdminStatementLimit();
    const audit = new OperatorAuditRepository(ds, limit);
    const revaluations = new RevaluationsRepository(ds, limit);
    const requestedBy = cliPrincipal();
    const target = Object.fromEntries(
      Object.entries(revaluationAuditTarget(body)).map(([k, v]) => [k, String(v)]),
    );
    const entry: AuditEntry = {
      principal: requestedBy,
      role: 'operator',
      action: REVALUATION_AUDIT_ACTION,
      target,
      outcome: 'started',
      detail: 'in progress',
    };
    const auditId = await audit.insert(entry);
    let id: string;
    try {
      id = await revaluations.request(body, requestedBy);
    } catch (error) {
      await audit.settle(auditId, 'error', 'internal error');
      throw error;
    }
    await audit.settle(auditId, 'ok', `revaluation ${id} accepted`);
    const scope = [
      body.portfolio_id !== undefined ? `portfolio ${body.portfolio_id}` : '',
      body.security_id !== undefined ? `security ${body.security_id}` : '',
    ]
      .filter(Boolean)
      .join(', ');
    process.stdout.write(
      `revaluation ${id} RUNNING: ${scope}, ${body.from} to ${body.to}, requested by ${requestedBy}\n` +
        `follow it: GET /revaluations/${id} on the scheduler (a viewer or operator token), or the gauge valuation_revaluations_running\n`,
    );
    return 0;
  } finally {
    await ds.destroy();
  }
}
