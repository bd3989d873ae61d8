import type { z } from 'zod';
import { toFieldIssues, ValidationError } from './errors.js';

/**
 * Parse `value` with a contract schema or throw a {@link ValidationError} whose
 * issues name each field (prefixed with `where`: `body`, `query`, `params`, `header`).
 */
export const parseOrThrow = <S extends z.ZodType>(schema: S, value: unknown, where: string): z.output<S> => {
  const result = schema.safeParse(value);
  if (!result.success) throw new ValidationError(toFieldIssues(result.error, where));
  return result.data;
};
