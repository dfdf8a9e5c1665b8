import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { extname, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

type Fetch = (request: Request) => Response | Promise<Response>;

/** Where the demo player's build lands (`pnpm --filter @satchel/player build`). */
export const PLAYER_DIST = fileURLToPath(new URL('../../player/dist/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.webmanifest': 'application/manifest+json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.mp4': 'video/mp4',
  '.webm': 'video/webm',
};

/** Whether the player was built, so that `/` can serve it. */
export function playerBuilt(dist = PLAYER_DIST): boolean {
  return existsSync(resolve(dist, 'index.html'));
}

/** What the player needs besides its files. */
export interface PlayerOptions {
  /** The build to serve (default {@link PLAYER_DIST}). */
  dist?: string;
}

/**
 * Serves the demo player's static build in front of the API: a GET for a file of `dist` answers with it
 * (`/` is `index.html`); any other request goes to `api`, and a page navigation the API does not know
 * (404 for a request that accepts HTML) falls back to `index.html`, the SPA way. API routes are never
 * shadowed: only paths that exist in `dist` are answered before the API. Files are looked up per request,
 * so a build that finishes after the server started (`pnpm start` builds the player in the background) is
 * served from then on; until then every request goes to `api`.
 */
/** A file of a static build: its path and bytes. */
export interface StaticFile {
  readonly path: string;
  readonly body: Buffer;
}

/** The file of `dist` a URL path names (`/` is `index.html`), or null; never a path outside `dist`. */
export async function staticFile(dist: string, pathname: string): Promise<StaticFile | null> {
  const root = resolve(dist);
  let decoded: string;
  try {
    decoded = decodeURIComponent(pathname);
  } catch {
    return null;
  }
  const path = resolve(root, `.${decoded === '/' ? '/index.html' : decoded}`);
  if (path !== root && !path.startsWith(root + sep)) return null;
  try {
    if (!(await stat(path)).isFile()) return null;
    return { path, body: await readFile(path) };
  } catch {
    return null;
  }
}

/** Answers with a static file: its content type, `no-cache` (hashed `assets/` files are immutable). */
export function staticResponse(request: Request, found: StaticFile): Response {
  const immutable = found.path.includes(`${sep}assets${sep}`);
  return new Response(request.method === 'HEAD' ? null : new Uint8Array(found.body), {
    status: 200,
    headers: {
      'content-type': TYPES[extname(found.path)] ?? 'application/octet-stream',
      'cache-control': immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      'x-content-type-options': 'nosniff',
    },
  });
}

export function withPlayer(api: Fetch, options: PlayerOptions = {}): Fetch {
  const dist = options.dist ?? PLAYER_DIST;
  const file = (pathname: string) => staticFile(dist, pathname);
  const respond = staticResponse;
  return async (request) => {
    const isRead = request.method === 'GET' || request.method === 'HEAD';
    const { pathname } = new URL(request.url);
    if (isRead && !pathname.startsWith('/v1/')) {
      const found = await file(pathname);
      if (found !== null) return respond(request, found);
    }
    const response = await api(request);
    const navigation =
      isRead && !pathname.startsWith('/v1/') && (request.headers.get('accept') ?? '').includes('text/html');
    if (response.status === 404 && navigation) {
      const index = await file('/');
      if (index !== null) return respond(request, index);
    }
    return response;
  };
}
