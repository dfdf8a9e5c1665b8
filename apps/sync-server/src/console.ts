import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { staticFile, staticResponse } from './player.js';

type Fetch = (request: Request) => Response | Promise<Response>;

/** Where the operator console's build lands (`node apps/console/scripts/build.mjs`). */
export const CONSOLE_DIST = fileURLToPath(new URL('../../console/dist/', import.meta.url));

/** Whether the console was built, so that `/console` can serve it. */
export function consoleBuilt(dist = CONSOLE_DIST): boolean {
  return existsSync(resolve(dist, 'index.html'));
}

/**
 * Serves the operator console at `/console` (its build's `index.html`) and `/console/<file>` in front of
 * `next`; everything else goes to `next`. The console signs in with an operator token and speaks only to
 * the admin API. Files are looked up per request, so a build that lands after start-up is served.
 */
export function withConsole(next: Fetch, dist = CONSOLE_DIST): Fetch {
  return async (request) => {
    const { pathname } = new URL(request.url);
    if (
      (request.method === 'GET' || request.method === 'HEAD') &&
      (pathname === '/console' || pathname.startsWith('/console/'))
    ) {
      const rest = pathname.slice('/console'.length) || '/';
      const found = await staticFile(dist, rest);
      if (found !== null) return staticResponse(request, found);
      if (rest === '/') {
        return new Response('The operator console is not built yet: node apps/console/scripts/build.mjs', {
          status: 503,
          headers: { 'content-type': 'text/plain; charset=utf-8', 'retry-after': '5' },
        });
      }
    }
    return next(request);
  };
}
