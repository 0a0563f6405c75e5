// Errors that end a berth command. main.ts prints the message (if any) on stderr and exits with the status,
// as the docker CLI does with its cli.StatusError.
export class StatusError extends Error {
  readonly status: number;
  constructor(message: string, status: number) {
    super(message);
    this.name = 'StatusError';
    this.status = status;
  }
}

/** A non-2xx answer from the daemon; message is docker's "Error response from daemon: ..." wording. */
export class ApiError extends Error {
  readonly statusCode: number;
  /** The daemon's own message, without docker's prefix. */
  readonly detail: string;
  constructor(statusCode: number, detail: string, message = `Error response from daemon: ${detail}`) {
    super(message);
    this.name = 'ApiError';
    this.statusCode = statusCode;
    this.detail = detail;
  }
}

/** The daemon could not be reached at all. */
export class ConnectError extends Error {}
