import { ERROR_CODES, type ProtocolError } from '@satchel/protocol';

/** An answer that is an error: its status, its wire body and extra headers. Thrown by {@link fail}. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly body: ProtocolError,
    readonly headers: Record<string, string> = {},
  ) {
    super(body.message);
  }
}

/** Ends the request with a wire error (the app's error handler writes it). */
export const fail = (error: ProtocolError, headers?: Record<string, string>): never => {
  throw new HttpError(ERROR_CODES[error.code].status, error, headers);
};
