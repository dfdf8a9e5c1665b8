import type { IncomingMessage } from 'node:http';
import { MAX_REQUEST_JSON_DEPTH, MAX_SYNC_BODY_BYTES, protocolError } from '@satchel/protocol';
import { fail, HttpError } from './http-error.js';

/**
 * Bounded work per request body: every route that reads a body reads it through this module (the Hono
 * routes through {@link readWebBody}, the lean `POST /v1/sync` through {@link readNodeBody}), after the
 * request was authenticated from its headers. What cannot be valid is refused before it is parsed whole:
 *
 * - a `Content-Length` over the route's limit: `413 PAYLOAD_TOO_LARGE` from the header, nothing read;
 * - a body that grows past the limit while streaming (no or a false `Content-Length`): 413 at the first
 *   byte over it, the rest left unread;
 * - a body that does not arrive within `timeoutMs` of the first read: `408 REQUEST_TIMEOUT`;
 * - JSON nesting deeper than the protocol's {@link MAX_REQUEST_JSON_DEPTH}: `400 BAD_REQUEST` from a scan
 *   that stops at the first bracket too deep (a 1 MiB `[[[[…` is refused after a few bytes instead of
 *   being parsed for half a second);
 * - invalid JSON: `400 BAD_REQUEST`.
 *
 * A refused body is left unread: the answer says `connection: close` (see {@link closeAfterAnswer}).
 */
export interface BodyBounds {
  /** Largest body accepted, in bytes. */
  readonly maxBytes: number;
  /** Time allowed to receive the whole body once reading starts, in milliseconds. */
  readonly timeoutMs: number;
}

/** Default time to receive a body once reading starts: 10 s (1 MiB at about 1 Mbit/s). */
export const DEFAULT_BODY_TIMEOUT_MS = 10_000;

/** The defaults: the protocol's largest body, {@link DEFAULT_BODY_TIMEOUT_MS}. */
export const DEFAULT_BODY_BOUNDS: BodyBounds = {
  maxBytes: MAX_SYNC_BODY_BYTES,
  timeoutMs: DEFAULT_BODY_TIMEOUT_MS,
};

const tooLarge = (maxBytes: number): never =>
  fail(
    protocolError('PAYLOAD_TOO_LARGE', `The body exceeds ${maxBytes} bytes`, {
      details: { limitBytes: maxBytes },
    }),
    { connection: 'close' },
  );

const tooSlow = (timeoutMs: number) =>
  new HttpError(408, protocolError('REQUEST_TIMEOUT', `The body did not arrive within ${timeoutMs} ms`), {
    connection: 'close',
    'retry-after': '1',
  });

/** Refuses from the header alone a declared `Content-Length` over `maxBytes` (413). */
export function refuseDeclaredLength(contentLength: string | null | undefined, maxBytes: number): void {
  if (contentLength === null || contentLength === undefined) return;
  const declared = Number(contentLength);
  if (Number.isFinite(declared) && declared > maxBytes) tooLarge(maxBytes);
}

/** Fails with 415 unless the content type is `application/json`. */
export function requireJson(contentType: string | null | undefined): void {
  if (!/^application\/json\b/i.test(contentType ?? '')) {
    fail(protocolError('UNSUPPORTED_MEDIA_TYPE', 'The body must be application/json'));
  }
}

/**
 * Reads a Node request's body within `bounds`. Rejects with {@link HttpError} 413 (declared or streamed
 * past `maxBytes`), 408 (not complete within `timeoutMs`) or 400 (the client aborted); the rest of a
 * refused body is left unread.
 */
export function readNodeBody(req: IncomingMessage, bounds: BodyBounds): Promise<Buffer> {
  try {
    refuseDeclaredLength(req.headers['content-length'], bounds.maxBytes);
  } catch (e) {
    return Promise.reject(e);
  }
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const done = (error: unknown, body?: Buffer) => {
      clearTimeout(timer);
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onAbort);
      req.off('aborted', onAbort);
      if (error) {
        req.pause();
        reject(error);
      } else resolve(body as Buffer);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > bounds.maxBytes) {
        try {
          tooLarge(bounds.maxBytes);
        } catch (e) {
          done(e);
        }
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => done(null, chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    const onAbort = () =>
      done(new HttpError(400, protocolError('BAD_REQUEST', 'The body was not sent in full')));
    const timer = setTimeout(() => done(tooSlow(bounds.timeoutMs)), bounds.timeoutMs);
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onAbort);
    req.on('aborted', onAbort);
    if (req.complete && req.readableEnded) onEnd();
  });
}

/**
 * Reads a web request's body within `bounds` (same refusals as {@link readNodeBody}). A request without a
 * body reads as zero bytes.
 */
export async function readWebBody(request: Request, bounds: BodyBounds): Promise<Uint8Array> {
  refuseDeclaredLength(request.headers.get('content-length'), bounds.maxBytes);
  const stream = request.body;
  if (stream === null) return new Uint8Array(0);
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(tooSlow(bounds.timeoutMs)), bounds.timeoutMs);
  });
  try {
    for (;;) {
      const { done, value } = await Promise.race([reader.read(), timedOut]);
      if (done) break;
      size += value.byteLength;
      if (size > bounds.maxBytes) tooLarge(bounds.maxBytes);
      chunks.push(value);
    }
  } catch (e) {
    reader.cancel().catch(() => undefined);
    if (e instanceof HttpError) throw e;
    throw new HttpError(400, protocolError('BAD_REQUEST', 'The body was not sent in full'));
  } finally {
    clearTimeout(timer);
  }
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

const OPEN_ARRAY = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_ARRAY = 0x5d;
const CLOSE_OBJECT = 0x7d;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/**
 * The byte offset at which `bytes` (UTF-8 JSON) opens an array or object deeper than `maxDepth`, or -1
 * when it never does. Strings are skipped (brackets inside them do not count); the scan stops at the
 * first bracket too deep, so a hostile body costs as many steps as its depth allows, not its length.
 * Malformed JSON is left to the parser.
 */
export function depthExceededAt(bytes: Uint8Array, maxDepth: number): number {
  let depth = 0;
  const n = bytes.length;
  for (let i = 0; i < n; i++) {
    const b = bytes[i];
    if (b === QUOTE) {
      // Skip the string: to the next quote not escaped.
      for (i++; i < n; i++) {
        const s = bytes[i];
        if (s === BACKSLASH) i++;
        else if (s === QUOTE) break;
      }
    } else if (b === OPEN_ARRAY || b === OPEN_OBJECT) {
      if (++depth > maxDepth) return i;
    } else if (b === CLOSE_ARRAY || b === CLOSE_OBJECT) {
      depth--;
    }
  }
  return -1;
}

/**
 * Parses a JSON body after the nesting scan ({@link depthExceededAt} with `maxDepth`, default the
 * protocol's {@link MAX_REQUEST_JSON_DEPTH}). Bytes that are not UTF-8 decode as U+FFFD, as `Request.text()`
 * does. Fails with `400 BAD_REQUEST` for nesting too deep or text that is not JSON.
 */
export function parseJsonBody(bytes: Uint8Array, maxDepth = MAX_REQUEST_JSON_DEPTH): unknown {
  if (depthExceededAt(bytes, maxDepth) >= 0) {
    fail(protocolError('BAD_REQUEST', `The body nests arrays or objects deeper than ${maxDepth} levels`));
  }
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return fail(protocolError('BAD_REQUEST', 'The body is not valid JSON'));
  }
}
