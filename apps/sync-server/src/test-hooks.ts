type Fetch = (request: Request) => Response | Promise<Response>;

/**
 * Fault-injection hooks for the crash tests (test/faults), active only when `SATCHEL_TEST_HOOKS=1` and
 * neither `SATCHEL_ENV` nor `NODE_ENV` is `production`; otherwise `fetch` is returned unchanged.
 *
 * With hooks on, a fraction `SATCHEL_TEST_COMMIT_DELAY_RATE` (default 0.25) of successful `POST /v1/sync`
 * answers is held for `SATCHEL_TEST_COMMIT_DELAY_MS` (default 200) after the merge committed, and
 * `HOOK committed <requestId>` is printed on stdout first: a test that kills the process on that line
 * kills it between the database commit and the HTTP response.
 */
export function withTestHooks(fetch: Fetch, env: NodeJS.ProcessEnv = process.env): Fetch {
  if (!testHooksEnabled(env)) return fetch;
  const delayMs = Number(env.SATCHEL_TEST_COMMIT_DELAY_MS ?? 200);
  const rate = Number(env.SATCHEL_TEST_COMMIT_DELAY_RATE ?? 0.25);
  return async (request) => {
    const response = await fetch(request);
    if (response.status === 200 && Math.random() < rate && new URL(request.url).pathname === '/v1/sync') {
      process.stdout.write(`HOOK committed ${response.headers.get('x-request-id') ?? '-'}\n`);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
    return response;
  };
}

/** True when the fault-injection hooks are on (see {@link withTestHooks}). */
export function testHooksEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.SATCHEL_TEST_HOOKS === '1' && env.SATCHEL_ENV === 'development' && env.NODE_ENV !== 'production';
}
