// The registry's errors, in the distribution spec's shape: clients (docker, skopeo, containerd) read the code
// field and print the message, so both follow the OCI distribution spec and Docker's registry API.
export type RegistryErrorCode =
  | 'BLOB_UNKNOWN'
  | 'BLOB_UPLOAD_INVALID'
  | 'BLOB_UPLOAD_UNKNOWN'
  | 'DIGEST_INVALID'
  | 'MANIFEST_BLOB_UNKNOWN'
  | 'MANIFEST_INVALID'
  | 'MANIFEST_UNKNOWN'
  | 'NAME_INVALID'
  | 'NAME_UNKNOWN'
  | 'SIZE_INVALID'
  | 'TAG_INVALID'
  | 'PAGINATION_NUMBER_INVALID'
  | 'UNAUTHORIZED'
  | 'DENIED'
  | 'UNSUPPORTED'
  | 'TOOMANYREQUESTS'
  | 'UNKNOWN';

const defaultStatus: Record<RegistryErrorCode, number> = {
  BLOB_UNKNOWN: 404,
  BLOB_UPLOAD_INVALID: 400,
  BLOB_UPLOAD_UNKNOWN: 404,
  DIGEST_INVALID: 400,
  MANIFEST_BLOB_UNKNOWN: 400,
  MANIFEST_INVALID: 400,
  MANIFEST_UNKNOWN: 404,
  NAME_INVALID: 400,
  NAME_UNKNOWN: 404,
  SIZE_INVALID: 400,
  TAG_INVALID: 400,
  PAGINATION_NUMBER_INVALID: 400,
  UNAUTHORIZED: 401,
  DENIED: 403,
  UNSUPPORTED: 405,
  TOOMANYREQUESTS: 429,
  UNKNOWN: 500,
};

export class RegistryError extends Error {
  readonly code: RegistryErrorCode;
  readonly status: number;
  readonly detail: unknown;
  // Extra response headers (WWW-Authenticate on a 401, Range on a 416).
  readonly headers: Record<string, string>;

  constructor(code: RegistryErrorCode, message: string, opts: { status?: number; detail?: unknown; headers?: Record<string, string> } = {}) {
    super(message);
    this.name = 'RegistryError';
    this.code = code;
    this.status = opts.status ?? defaultStatus[code];
    this.detail = opts.detail ?? null;
    this.headers = opts.headers ?? {};
  }

  body(): { errors: { code: string; message: string; detail: unknown }[] } {
    return { errors: [{ code: this.code, message: this.message, detail: this.detail }] };
  }
}

export const blobUnknown = (digest: string) => new RegistryError('BLOB_UNKNOWN', 'blob unknown to registry', { detail: { digest } });
export const manifestUnknown = (reference: string) => new RegistryError('MANIFEST_UNKNOWN', 'manifest unknown', { detail: { reference } });
export const nameInvalid = (name: string) => new RegistryError('NAME_INVALID', 'invalid repository name', { detail: { name } });
export const nameUnknown = (name: string) => new RegistryError('NAME_UNKNOWN', 'repository name not known to registry', { detail: { name } });
export const uploadUnknown = (uuid: string) => new RegistryError('BLOB_UPLOAD_UNKNOWN', 'blob upload unknown to registry', { detail: { uuid } });
export const digestInvalid = (message: string, detail?: unknown) => new RegistryError('DIGEST_INVALID', message, { detail });
