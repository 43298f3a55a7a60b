import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import type { Response } from 'express';

/** What a client is told of an HttpException: its message, whatever shape Nest gave the body. */
export function httpErrorMessage(exception: HttpException): string {
  const body = exception.getResponse();
  if (typeof body === 'string') return body;
  const message = (body as { message?: unknown }).message;
  if (Array.isArray(message)) return message.map(String).join('; ');
  if (typeof message === 'string') return message;
  return exception.message;
}

/**
 * Errors of the scheduler's HTTP routes in the shape of contract §9: `{"error": "..."}` with the
 * status of the exception. Anything that is not an HttpException is a 500 `{"error": "internal
 * error"}`: its detail (a database error can name a host, a user or a statement) goes to the log only.
 */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('OperatorsApi');

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    let status: number;
    let error: string;
    if (exception instanceof HttpException) {
      status = exception.getStatus();
      error = httpErrorMessage(exception);
    } else {
      status = HttpStatus.INTERNAL_SERVER_ERROR;
      error = 'internal error';
      const detail = exception instanceof Error ? exception.message : String(exception);
      const code = (exception as { code?: unknown } | null)?.code;
      this.logger.error({
        msg: 'request failed',
        detail,
        ...(typeof code === 'string' ? { code } : {}),
      });
    }
    if (res.headersSent) return;
    res.status(status).json({ error });
  }
}
