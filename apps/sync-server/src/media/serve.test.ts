import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { MediaLibrary } from './generate.js';
import { withMedia } from './serve.js';

const dir = mkdtempSync(join(tmpdir(), 'satchel-media-test-'));
mkdirSync(join(dir, 'night-train'));
writeFileSync(join(dir, 'night-train', 'manifest.mpd'), '<MPD/>');
writeFileSync(join(dir, 'night-train', 'chunk-0-001.webm'), Buffer.from([1, 2, 3]));
const library: MediaLibrary = { dir, keys: new Map([['night-train', { keyId: '00', key: '11' }]]) };
const api = async () => new Response('api');
const get = (fetch: (r: Request) => Response | Promise<Response>, path: string) =>
  fetch(new Request(`http://localhost${path}`));

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the sample media route', () => {
  it('serves a title’s manifest and segments with their types, and leaves other paths to the API', async () => {
    const serve = withMedia(api, Promise.resolve(library));
    const mpd = await get(serve, '/media/night-train/manifest.mpd');
    expect(mpd.headers.get('content-type')).toBe('application/dash+xml');
    expect(await mpd.text()).toBe('<MPD/>');
    const chunk = await get(serve, '/media/night-train/chunk-0-001.webm');
    expect(new Uint8Array(await chunk.arrayBuffer())).toEqual(new Uint8Array([1, 2, 3]));
    expect(await (await get(serve, '/v1/catalogue')).text()).toBe('api');
  });

  it('answers 404 for unknown titles, files outside the pattern and traversal attempts', async () => {
    const serve = withMedia(api, Promise.resolve(library));
    for (const path of [
      '/media/other/manifest.mpd',
      '/media/night-train/keys.json',
      '/media/night-train/..%2F..%2Fkeys.json',
      '/media/night-train/chunk-0-009.webm',
    ]) {
      expect((await get(serve, path)).status, path).toBe(404);
    }
  });

  it('waits for a library still being generated, and says 404 when generation failed', async () => {
    let ready: (l: MediaLibrary) => void = () => {};
    const serve = withMedia(api, new Promise<MediaLibrary>((r) => (ready = r)));
    const pending = get(serve, '/media/night-train/manifest.mpd');
    ready(library);
    expect((await pending).status).toBe(200);
    const slow = withMedia(api, new Promise<MediaLibrary>(() => {}), 10);
    expect((await get(slow, '/media/night-train/manifest.mpd')).status).toBe(503);
    const failed = withMedia(api, Promise.reject(new Error('no ffmpeg')));
    expect((await get(failed, '/media/night-train/manifest.mpd')).status).toBe(404);
  });
});
