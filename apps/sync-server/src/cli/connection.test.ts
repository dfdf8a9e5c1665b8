import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connect } from './connection.js';

// A server that takes no token the CLI can sign, as a production server with its own secret answers.
let server: Server;
let url = '';
beforeAll(async () => {
  server = createServer((req, res) => {
    const forbidden = req.url?.includes('forbidden');
    res.writeHead(forbidden ? 403 : 401, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        error: forbidden
          ? { code: 'FORBIDDEN', message: 'This needs the admin role; the token has support' }
          : { code: 'UNAUTHENTICATED', message: 'Invalid token' },
      }),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => new Promise((resolve) => server.close(resolve)));

const refusal = async (env: NodeJS.ProcessEnv, path = '/v1/admin/whoami') => {
  const api = await connect({ server: url, env: { SATCHEL_ENV: 'development', ...env } });
  try {
    return await api.request('GET', path).then(
      () => null,
      (e: unknown) => e as { status: number; code: string; hint?: string },
    );
  } finally {
    await api.close();
  }
};

describe('a 401 from the server says which token to set', () => {
  it('without SATCHEL_OPERATOR_TOKEN: the CLI signed its own token, with the development secret or SATCHEL_TOKEN_SECRET', async () => {
    expect(await refusal({})).toMatchObject({
      status: 401,
      code: 'UNAUTHENTICATED',
      hint: expect.stringMatching(
        /^SATCHEL_OPERATOR_TOKEN is not set, so the CLI signed its own admin token with the public development secret .*: set SATCHEL_OPERATOR_TOKEN to an operator token of this server/,
      ),
    });
    expect((await refusal({ SATCHEL_TOKEN_SECRET: 'another-secret-0123456789abcdef' }))?.hint).toMatch(
      /signed its own admin token with SATCHEL_TOKEN_SECRET, which this server does not accept: set SATCHEL_OPERATOR_TOKEN/,
    );
  });

  it('with SATCHEL_OPERATOR_TOKEN: the token was refused, and how to get a current one', async () => {
    expect((await refusal({ SATCHEL_OPERATOR_TOKEN: 'expired-or-foreign' }))?.hint).toMatch(
      /^the server refused SATCHEL_OPERATOR_TOKEN: set it to a current operator token of this server \(mint one with `pnpm satchel token operator/,
    );
  });

  it('no hint on other refusals', async () => {
    expect(await refusal({}, '/v1/admin/forbidden')).toMatchObject({ status: 403, hint: undefined });
  });
});
