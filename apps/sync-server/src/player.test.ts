import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withPlayer } from './player.js';

let dist: string;
const api = async (request: Request) =>
  new URL(request.url).pathname === '/v1/ping'
    ? Response.json({ pong: true })
    : Response.json({ error: { code: 'NOT_FOUND' } }, { status: 404 });

beforeAll(() => {
  dist = mkdtempSync(join(tmpdir(), 'player-dist-'));
  mkdirSync(join(dist, 'assets'));
  writeFileSync(join(dist, 'index.html'), '<!doctype html><title>player</title>');
  writeFileSync(join(dist, 'assets', 'app-123.js'), 'console.log(1)');
  writeFileSync(join(dist, 'sw.js'), 'self');
});

afterAll(() => rmSync(dist, { recursive: true, force: true }));

const get = (path: string, accept = '*/*') =>
  withPlayer(api, { dist })(new Request(`http://localhost${path}`, { headers: { accept } }));

describe('the reference server serving the demo player', () => {
  it('serves index.html at / and hashed assets as immutable', async () => {
    const index = await get('/');
    expect(index.status).toBe(200);
    expect(index.headers.get('content-type')).toMatch(/^text\/html/);
    expect(index.headers.get('cache-control')).toBe('no-cache');
    expect(await index.text()).toContain('<title>player</title>');
    const asset = await get('/assets/app-123.js');
    expect(asset.headers.get('content-type')).toMatch(/^text\/javascript/);
    expect(asset.headers.get('cache-control')).toContain('immutable');
    expect((await get('/sw.js')).headers.get('cache-control')).toBe('no-cache');
  });

  it('leaves the API alone, including its JSON 404 for programs', async () => {
    expect(await (await get('/v1/ping')).json()).toEqual({ pong: true });
    const missing = await get('/v1/nothing', 'text/html');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: { code: 'NOT_FOUND' } });
    expect((await get('/nothing.json', 'application/json')).status).toBe(404);
  });

  it('falls back to index.html for an unknown page a browser navigates to', async () => {
    const page = await get('/downloads/42', 'text/html,application/xhtml+xml');
    expect(page.status).toBe(200);
    expect(await page.text()).toContain('<title>player</title>');
  });

  it('never serves a file outside its directory', async () => {
    const escaped = await get('/..%2f..%2fetc%2fpasswd');
    expect(escaped.status).toBe(404);
  });

  it('answers with the API while the player is still building, and serves the player once it is built', async () => {
    const later = join(dist, 'building');
    const handler = withPlayer(api, { dist: later });
    const before = await handler(new Request('http://localhost/', { headers: { accept: 'text/html' } }));
    expect(before.status).toBe(404);
    expect(await before.json()).toEqual({ error: { code: 'NOT_FOUND' } });
    mkdirSync(later);
    writeFileSync(join(later, 'index.html'), '<!doctype html><title>built</title>');
    const after = await handler(new Request('http://localhost/', { headers: { accept: 'text/html' } }));
    expect(after.status).toBe(200);
    expect(await after.text()).toContain('built');
  });
});
