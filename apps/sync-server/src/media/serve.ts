import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MediaLibrary } from './generate.js';

type Fetch = (request: Request) => Response | Promise<Response>;

const TYPES: Record<string, string> = { mpd: 'application/dash+xml', webm: 'video/webm' };
const FILE = /^\/media\/([a-z0-9][a-z0-9-]{0,63})\/((?:manifest\.mpd)|(?:(?:init|chunk)-[\w-]{1,40}\.webm))$/;

/**
 * Serves the sample media in front of `next`: `GET /media/<titleId>/manifest.mpd` and its segments. The
 * media is encrypted, so it is public, as on a CDN; the key is what a device must earn (the licence
 * proxy). Answers 503 while the library is still being generated, 404 for a title without media.
 */
export function withMedia(next: Fetch, library: Promise<MediaLibrary>): Fetch {
  let ready: MediaLibrary | null = null;
  let failed = false;
  library.then(
    (l) => {
      ready = l;
    },
    () => {
      failed = true;
    },
  );
  return async (request) => {
    const { pathname } = new URL(request.url);
    if (!pathname.startsWith('/media/') || (request.method !== 'GET' && request.method !== 'HEAD')) {
      return next(request);
    }
    const m = FILE.exec(pathname);
    const lib: MediaLibrary | null = ready;
    if (failed)
      return Response.json({ error: 'Sample media is unavailable (is ffmpeg installed?)' }, { status: 404 });
    if (lib === null) {
      return Response.json(
        { error: 'Sample media is being generated' },
        { status: 503, headers: { 'retry-after': '1' } },
      );
    }
    if (!m?.[1] || !m[2] || !lib.keys.has(m[1]))
      return Response.json({ error: 'No such media' }, { status: 404 });
    let body: Buffer;
    try {
      body = await readFile(join(lib.dir, m[1], m[2]));
    } catch {
      return Response.json({ error: 'No such media' }, { status: 404 });
    }
    return new Response(request.method === 'HEAD' ? null : new Uint8Array(body), {
      headers: {
        'content-type': TYPES[m[2].split('.').pop() ?? ''] ?? 'application/octet-stream',
        'cache-control': 'public, max-age=3600',
        'access-control-allow-origin': '*',
        'x-content-type-options': 'nosniff',
      },
    });
  };
}
