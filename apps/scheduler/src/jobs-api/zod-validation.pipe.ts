import { ArgumentMetadata, BadRequestException, Injectable, PipeTransform } from '@nestjs/common';
import type { z } from 'zod';

/**
 * Validates one request part (the query object, a path parameter) with a zod schema. A 400 names
 * the field and the rule it broke, e.g. `limit: must be at most 1000`.
 */
@Injectable()
export class ZodValidationPipe<T extends z.ZodType> implements PipeTransform<unknown, z.output<T>> {
  constructor(private readonly schema: T) {}

  transform(value: unknown, metadata: ArgumentMetadata): z.output<T> {
    const parsed = this.schema.safeParse(value);
    if (parsed.success) return parsed.data;
    const issue = parsed.error.issues[0];
    // The top-level name is what the caller typed (`status`, not `status.0` for a list item).
    const field = issue.path.length ? String(issue.path[0]) : metadata.data;
    throw new BadRequestException(field ? `${field}: ${issue.message}` : issue.message);
  }
}
