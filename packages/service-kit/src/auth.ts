import { timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { UnauthorizedError } from './errors.js';

/** Require `Authorization: Bearer <token>`; compares in constant time. */
export const requireBearer = (token: string): RequestHandler => {
  const expected = Buffer.from(token);
  return (req, _res, next) => {
    const header = req.headers.authorization ?? '';
    const given = Buffer.from(header.startsWith('Bearer ') ? header.slice(7) : '');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new UnauthorizedError();
    next();
  };
};
