import { ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, WriteStream } from 'node:fs';
import { dirname, join } from 'node:path';

/** The repository root, from the sources (jest) or from `dist/` (built scripts). */
function findRoot(dir: string): string {
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the repository root');
    dir = parent;
  }
  return dir;
}
export const REPO_ROOT = findRoot(__dirname);
const ENTRIES = {
  calculator: 'dist/apps/calculator/src/main.js',
  scheduler: 'dist/apps/scheduler/src/main.js',
} as const;
export type AppName = keyof typeof ENTRIES;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A built app run as a separate OS process, as in production: for the demo, the benchmark and the
 * fault suite. Its JSON log goes to a file under `.run/`; `stop` sends SIGTERM and waits for the exit.
 */
export class ManagedProcess {
  private child: ChildProcess | null = null;
  private log: WriteStream | null = null;
  private exited: Promise<number | null> = Promise.resolve(null);
  exitCode: number | null = null;
  exitSignal: NodeJS.Signals | null = null;

  constructor(
    readonly name: string,
    readonly app: AppName,
    readonly port: number,
    private readonly env: Record<string, string>,
    readonly logDir = join(REPO_ROOT, '.run'),
  ) {}

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== null && this.exitCode === null && this.exitSignal === null;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get logFile(): string {
    return join(this.logDir, `${this.name}.log`);
  }

  start(): this {
    mkdirSync(this.logDir, { recursive: true });
    this.log = createWriteStream(this.logFile, { flags: 'a' });
    const portVar = this.app === 'calculator' ? 'CALCULATOR_HTTP_PORT' : 'SCHEDULER_HTTP_PORT';
    this.exitCode = null;
    this.exitSignal = null;
    const child = spawn(process.execPath, [join(REPO_ROOT, ENTRIES[this.app])], {
      cwd: REPO_ROOT,
      env: { ...process.env, ...this.env, [portVar]: String(this.port), KAFKA_CLIENT_ID: this.name },
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group: a Ctrl-C in the terminal reaches the orchestrator, which stops it in order.
      detached: true,
    });
    child.stdout?.pipe(this.log, { end: false });
    child.stderr?.pipe(this.log, { end: false });
    this.child = child;
    this.exited = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        this.exitCode = code;
        this.exitSignal = signal;
        resolve(code);
      }),
    );
    return this;
  }

  /** Resolves once `/health/ready` answers 200; rejects if the process exits or the time runs out. */
  async waitReady(timeoutMs = 60000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running)
        throw new Error(`${this.name} exited (${this.exitCode ?? this.exitSignal}); see ${this.logFile}`);
      try {
        const res = await fetch(`${this.url}/health/ready`, { signal: AbortSignal.timeout(2000) });
        if (res.ok) return;
      } catch {
        // not listening yet
      }
      await sleep(200);
    }
    throw new Error(`${this.name} was not ready within ${timeoutMs} ms; see ${this.logFile}`);
  }

  /** Sends `signal` and waits for the exit; returns how long that took (ms). */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 15000): Promise<number> {
    if (!this.running || !this.child) return 0;
    const started = Date.now();
    this.child.kill(signal);
    const timer = setTimeout(() => this.child?.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(timer);
    return Date.now() - started;
  }

  /** SIGSTOP / SIGCONT: a paused process keeps its connections but does nothing (a stale worker). */
  pause(): void {
    this.child?.kill('SIGSTOP');
  }

  resume(): void {
    this.child?.kill('SIGCONT');
  }

  async metrics(): Promise<string> {
    const res = await fetch(`${this.url}/metrics`, { signal: AbortSignal.timeout(3000) });
    return res.text();
  }
}

/** A metric's value from Prometheus text (the first sample whose name and labels match). */
export function metricValue(text: string, name: string, labels = ''): number | null {
  const escaped = `${name}${labels ? `{${labels}}` : ''}`.replace(/[{}.*+?^$()|[\]\\]/g, '\\$&');
  const match = new RegExp(`^${escaped} ([-+0-9.eE]+|NaN)$`, 'm').exec(text);
  return match ? Number(match[1]) : null;
}
