import { Controller, Get, HttpCode, HttpStatus, Inject, Logger, Res } from '@nestjs/common';
import type { Response } from 'express';
import { READINESS_CHECKS, ReadinessCheck, withTimeout } from './readiness';

const CHECK_TIMEOUT_MS = 2000;

@Controller('health')
export class HealthController {
  private readonly logger = new Logger(HealthController.name);

  constructor(@Inject(READINESS_CHECKS) private readonly checks: ReadinessCheck[]) {}

  @Get('live')
  @HttpCode(HttpStatus.OK)
  live(): { status: 'up' } {
    return { status: 'up' };
  }

  /**
   * 200 when every dependency answers, 503 otherwise. The body says only up or down per dependency:
   * it is open to anyone who can reach the port, and an error's text can name hosts and users. The
   * reason goes to the log.
   */
  @Get('ready')
  async ready(
    @Res({ passthrough: true }) res: Response,
  ): Promise<{ status: string; checks: Record<string, 'up' | 'down'> }> {
    const results = await Promise.all(
      this.checks.map(async (c) => {
        try {
          await withTimeout(c.check(), CHECK_TIMEOUT_MS, c.name);
          return [c.name, 'up'] as const;
        } catch (error) {
          const reason = error instanceof Error ? error.message : String(error);
          this.logger.warn({ msg: 'readiness check failed', check: c.name, reason });
          return [c.name, 'down'] as const;
        }
      }),
    );
    const up = results.every(([, state]) => state === 'up');
    res.status(up ? HttpStatus.OK : HttpStatus.SERVICE_UNAVAILABLE);
    return { status: up ? 'up' : 'down', checks: Object.fromEntries(results) };
  }
}
