import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { MAX_REQUEST_JSON_DEPTH } from '@satchel/protocol';
import { describe, expect, it } from 'vitest';
import { depthExceededAt, parseJsonBody, readNodeBody, readWebBody } from './body.js';
import { HttpError } from './http-error.js';

const bytes = (text: string) => new TextEncoder().encode(text);

/** A Node request whose body arrives as `chunks` (then ends unless `stall`). */
function nodeRequest(chunks: string[], headers: Record<string, string> = {}, stall = false) {
  const req = new IncomingMessage(new Socket());
  req.headers = headers;
  queueMicrotask(() => {
    for (const c of chunks) req.push(Buffer.from(c));
    if (!stall) req.push(null);
  });
  return req;
}

const refusal = async (p: Promise<unknown>) => {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(HttpError);
  return e as HttpError;
};

describe('depthExceededAt', () => {
  it('given nesting within the bound, when scanned, then nothing is found', () => {
    expect(depthExceededAt(bytes('{"a":[{"b":{"c":1}}]}'), 4)).toBe(-1);
  });
  it('given nesting one level too deep, when scanned, then it stops at that bracket', () => {
    expect(depthExceededAt(bytes('[[[[[1]]]]]'), 4)).toBe(4);
  });
  it('given brackets and escaped quotes inside strings, when scanned, then they do not count', () => {
    expect(depthExceededAt(bytes('{"a":"[[[[[\\"[[[[","b":["]]]]"]}'), 2)).toBe(-1);
  });
  it('given a 1 MiB run of [, when scanned, then it stops after the bound', () => {
    const hostile = bytes('['.repeat(524_287));
    expect(depthExceededAt(hostile, MAX_REQUEST_JSON_DEPTH)).toBe(MAX_REQUEST_JSON_DEPTH);
  });
});

describe('parseJsonBody', () => {
  it('given valid JSON, when parsed, then it is the value', () => {
    expect(parseJsonBody(bytes('{"a":[1,"é"]}'))).toEqual({ a: [1, 'é'] });
  });
  it('given text that is not JSON, when parsed, then 400 BAD_REQUEST', () => {
    expect(() => parseJsonBody(bytes('{"a":'))).toThrow(HttpError);
  });
  it('given nesting beyond the protocol bound, when parsed, then 400 BAD_REQUEST naming the depth', () => {
    const deep = `${'['.repeat(MAX_REQUEST_JSON_DEPTH + 1)}${']'.repeat(MAX_REQUEST_JSON_DEPTH + 1)}`;
    try {
      parseJsonBody(bytes(deep));
      expect.unreachable();
    } catch (e) {
      expect((e as HttpError).body).toMatchObject({ code: 'BAD_REQUEST' });
      expect((e as HttpError).body.message).toContain(String(MAX_REQUEST_JSON_DEPTH));
    }
  });
});

describe('readNodeBody', () => {
  const bounds = { maxBytes: 10, timeoutMs: 200 };
  it('given a body within the bounds in several chunks, when read, then it is the whole body', async () => {
    const body = await readNodeBody(nodeRequest(['{"a"', ':1}']), bounds);
    expect(body.toString()).toBe('{"a":1}');
  });
  it('given a declared length over the limit, when read, then 413 before any byte', async () => {
    const e = await refusal(readNodeBody(nodeRequest([], { 'content-length': '11' }, true), bounds));
    expect(e.status).toBe(413);
    expect(e.headers.connection).toBe('close');
  });
  it('given a body that streams past the limit without a length, when read, then 413', async () => {
    const e = await refusal(readNodeBody(nodeRequest(['123456', '789012']), bounds));
    expect(e.status).toBe(413);
  });
  it('given a body that stops arriving, when read, then 408 REQUEST_TIMEOUT after the time limit', async () => {
    const e = await refusal(readNodeBody(nodeRequest(['{"a'], {}, true), bounds));
    expect(e.status).toBe(408);
    expect(e.body.code).toBe('REQUEST_TIMEOUT');
  });
});

describe('readWebBody', () => {
  const bounds = { maxBytes: 10, timeoutMs: 200 };
  it('given a body within the bounds, when read, then it is the body', async () => {
    const body = await readWebBody(new Request('http://x/', { method: 'POST', body: '{"a":1}' }), bounds);
    expect(new TextDecoder().decode(body)).toBe('{"a":1}');
  });
  it('given a body over the limit, when read, then 413', async () => {
    const e = await refusal(
      readWebBody(new Request('http://x/', { method: 'POST', body: '{"a":123456789}' }), bounds),
    );
    expect(e.status).toBe(413);
  });
  it('given a stream that stalls, when read, then 408', async () => {
    const stream = new ReadableStream<Uint8Array>({
      start(c) {
        c.enqueue(bytes('{"a'));
      },
    });
    const request = new Request('http://x/', { method: 'POST', body: stream, duplex: 'half' } as RequestInit);
    const e = await refusal(readWebBody(request, bounds));
    expect(e.status).toBe(408);
  });
});
