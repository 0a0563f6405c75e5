// One error type for the whole daemon. It carries an HTTP status and Docker's own wording, because clients
// (the docker CLI, docker-py, dockerode) match on both.
export type ErrorCode =
  | 'invalid-parameter' // 400
  | 'unauthorized' // 401
  | 'forbidden' // 403
  | 'not-found' // 404
  | 'conflict' // 409
  | 'not-modified' // 304
  | 'not-implemented' // 501
  | 'unavailable' // 503
  | 'internal'; // 500

const statusOf: Record<ErrorCode, number> = {
  'invalid-parameter': 400,
  unauthorized: 401,
  forbidden: 403,
  'not-found': 404,
  conflict: 409,
  'not-modified': 304,
  'not-implemented': 501,
  unavailable: 503,
  internal: 500,
};

export class BerthError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'BerthError';
    this.code = code;
    this.status = statusOf[code];
  }
}

export const invalidParameter = (msg: string) => new BerthError('invalid-parameter', msg);
export const notFound = (msg: string) => new BerthError('not-found', msg);
export const conflict = (msg: string) => new BerthError('conflict', msg);
export const notModified = (msg = '') => new BerthError('not-modified', msg);
export const forbidden = (msg: string) => new BerthError('forbidden', msg);
export const internal = (msg: string, cause?: unknown) => new BerthError('internal', msg, { cause });

export function isErrno(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && (err as NodeJS.ErrnoException).code === code;
}
