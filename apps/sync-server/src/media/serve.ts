import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MediaLibrary } from './generate.js';

type Fetch = (request: Request) => Response | Promise<Response>;

const TYPES: Record<string, string> = { mpd: 'application/dash+xml', webm: 'video/webm' };
const FILE = /^\/media\/([a-z0-9][a-z0-9-]{0,63})\/((?:manifest\.mpd)|(?:(?:init|chunk)-[\w-]{1,40}\.webm))$/;

/**
 * Serves the sample media in front of `next`: `GET /media/<titleId>/manifest.mpd` and its segments. The
 * media is encrypted, so it is public, as on a CDN; the key is what a device must earn (the licence
 * proxy). While the library is being generated a request waits for it (up to `waitMs`, then 503); 404
 * for a title without media or when generation failed.
 */
export function withMedia(next: Fetch, library: Promise<MediaLibrary>, waitMs = 60_000): Fetch {
  const settled = library.then(
    (l) => l,
    () => null,
  );
  return async (request) => {
    const { pathname } = new URL(request.url);
    if (!pathname.startsWith('/media/') || (request.method !== 'GET' && request.method !== 'HEAD')) {
      return next(request);
    }
    // The first start generates the media: a request waits for it (seconds) rather than failing.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const lib = await Promise.race([
      settled,
      new Promise<'waiting'>((resolve) => {
        timer = setTimeout(() => resolve('waiting'), waitMs);
      }),
    ]).finally(() => clearTimeout(timer));
    if (lib === 'waiting') {
      return Response.json(
        { error: 'Sample media is being generated' },
        { status: 503, headers: { 'retry-after': '5' } },
      );
    }
    if (lib === null) {
      return Response.json({ error: 'Sample media is unavailable (is ffmpeg installed?)' }, { status: 404 });
    }
    const m = FILE.exec(pathname);
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
