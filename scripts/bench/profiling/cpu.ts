import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import type { Client } from 'pg';

/** USER_HZ: /proc reports CPU time in these ticks (100 on Linux for every architecture we run on). */
const TICKS_PER_SECOND = 100;
const POSTGRES_PORT_HEX = ':1538'; // 5432

export type CpuSample = Record<string, number>;

function read(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return ''; // exited meanwhile
  }
}

function cpuSeconds(pid: number): number {
  // Fields after the command (which may contain spaces) start at ") ": utime and stime are 14 and 15.
  const stat = read(`/proc/${pid}/stat`);
  if (!stat) return 0;
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}

const pids = () =>
  readdirSync('/proc')
    .filter((e) => /^\d+$/.test(e))
    .map(Number);

function socketInodes(pid: number): Set<string> {
  const inodes = new Set<string>();
  let fds: string[] = [];
  try {
    fds = readdirSync(`/proc/${pid}/fd`);
  } catch {
    return inodes;
  }
  for (const fd of fds) {
    try {
      const link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      if (link.startsWith('socket:[')) inodes.add(link.slice(8, -1));
    } catch {
      // closed meanwhile
    }
  }
  return inodes;
}

/** Rows of /proc/net/tcp and tcp6 (Java and some clients use IPv4-mapped IPv6 sockets). */
function tcpRows(): { local: string; remote: string; state: string; inode: string }[] {
  return (read('/proc/net/tcp') + read('/proc/net/tcp6'))
    .split('\n')
    .map((line) => line.trim().split(/\s+/))
    .filter((f) => f.length > 9 && f[0] !== 'sl')
    .map((f) => ({ local: f[1], remote: f[2], state: f[3], inode: f[9] }));
}

/** The process listening on `port` (the broker the bench uses, whoever started it), or null. */
export function pidListeningOn(port: number): number | null {
  const hexPort = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes = new Set(
    tcpRows()
      .filter((r) => r.local.endsWith(hexPort) && r.state === '0A') // 0A: LISTEN
      .map((r) => r.inode),
  );
  if (inodes.size === 0) return null;
  return pids().find((pid) => [...socketInodes(pid)].some((i) => inodes.has(i))) ?? null;
}

/**
 * Which PostgreSQL backend serves which app process: the app's sockets to port 5432 give its client
 * ports, and pg_stat_activity maps client ports to backend pids.
 */
async function backendOwners(
  db: Client,
  apps: Record<string, number | undefined>,
): Promise<Map<number, string>> {
  const rows = tcpRows().filter((r) => r.remote.endsWith(POSTGRES_PORT_HEX));
  const portOwner = new Map<number, string>();
  for (const [name, pid] of Object.entries(apps)) {
    if (pid === undefined) continue;
    const inodes = socketInodes(pid);
    for (const r of rows) if (inodes.has(r.inode)) portOwner.set(parseInt(r.local.split(':')[1], 16), name);
  }
  const { rows: backends } = await db.query<{ pid: number; client_port: number | null }>(
    `SELECT pid, client_port FROM pg_stat_activity WHERE client_port IS NOT NULL`,
  );
  const owners = new Map<number, string>();
  for (const b of backends) {
    const owner = b.client_port === null ? undefined : portOwner.get(b.client_port);
    if (owner) owners.set(b.pid, owner);
  }
  return owners;
}

/** A PostgreSQL process's role from its title: `postgres: 15/main: walwriter`, `… autovacuum worker`. */
function postgresRole(pid: number): string {
  const title = read(`/proc/${pid}/cmdline`).replace(/\0/g, ' ');
  for (const role of ['walwriter', 'checkpointer', 'background writer', 'autovacuum', 'logical replication'])
    if (title.includes(role)) return role === 'background writer' ? 'bgwriter' : role;
  return 'other';
}

/**
 * CPU seconds used so far by each component: the app processes, their PostgreSQL backends (`pg:<app>`),
 * PostgreSQL's background processes (`pg:walwriter`, `pg:autovacuum`, …; `pg:other` is every other
 * backend: the bench's own, and other databases'), the broker, the bench itself, and the whole
 * machine (busy and idle from /proc/stat), so a window's deltas show who spent the two cores.
 */
export async function sampleCpu(
  db: Client,
  apps: Record<string, number | undefined>,
  brokerPid: number | null,
): Promise<CpuSample> {
  const own = process.cpuUsage();
  const sample: CpuSample = { bench: (own.user + own.system) / 1e6 };
  if (brokerPid !== null) sample.kafka = cpuSeconds(brokerPid);
  for (const [name, pid] of Object.entries(apps)) sample[name] = pid === undefined ? 0 : cpuSeconds(pid);
  const owners = await backendOwners(db, apps);
  for (const pid of pids()) {
    if (read(`/proc/${pid}/comm`).trim() !== 'postgres') continue;
    const key = `pg:${owners.get(pid) ?? postgresRole(pid)}`;
    sample[key] = (sample[key] ?? 0) + cpuSeconds(pid);
  }
  const [, ...ticks] = read('/proc/stat').split('\n')[0].trim().split(/\s+/);
  const [user, nice, system, idle, iowait, irq, softirq, steal] = ticks.map(Number);
  sample.machine = (user + nice + system + irq + softirq + steal) / TICKS_PER_SECOND;
  sample.machineIdle = (idle + iowait) / TICKS_PER_SECOND;
  return sample;
}

/** after − before; a component new in `after` (a backend opened meanwhile) counts from zero. */
export function cpuDelta(before: CpuSample, after: CpuSample): CpuSample {
  const delta: CpuSample = {};
  for (const key of Object.keys(after)) delta[key] = after[key] - (before[key] ?? 0);
  return delta;
}
