/** Something a process needs to serve: the database, the broker. `/health/ready` asks each of them. */
export abstract class ReadinessCheck {
  abstract readonly name: string;
  /** Resolves when the dependency answers; rejects (or times out) when it does not. */
  abstract check(): Promise<void>;
}

export const READINESS_CHECKS = Symbol('READINESS_CHECKS');

export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
