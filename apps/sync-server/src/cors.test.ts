import { createSatchelServer, pgliteDatabase } from '@satchel/server';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';
import { readCorsOrigins } from './cors.js';

describe('SATCHEL_CORS_ORIGINS', () => {
  it('allows every origin in development when unset, none but the same origin in production', () => {
    expect(readCorsOrigins(undefined, false)).toBe('*');
    expect(readCorsOrigins('', false)).toBe('*');
    expect(readCorsOrigins(undefined, true)).toEqual([]);
  });

  it('reads a list separated by commas or spaces, normalised, without duplicates', () => {
    expect(
      readCorsOrigins(
        ' https://Player.Example.com/, app://satchel  http://localhost:5173,https://player.example.com',
        true,
      ),
    ).toEqual(['https://player.example.com', 'app://satchel', 'http://localhost:5173']);
  });

  it('accepts * in development only', () => {
    expect(readCorsOrigins('*', false)).toBe('*');
    expect(() => readCorsOrigins('*', true)).toThrow(/refused in production/);
    expect(() => readCorsOrigins('*,https://a.example', false)).toThrow(/cannot be combined/);
  });

  it.each(['player.example.com', 'https://player.example.com/app', 'https://', 'https://a.example?x=1'])(
    'refuses %s, which is not an origin',
    (value) => {
      expect(() => readCorsOrigins(value, false)).toThrow(/is not an origin/);
    },
  );

  it('is part of the configuration, refused at start-up when unsafe', () => {
    expect(
      loadConfig({ SATCHEL_ENV: 'development', SATCHEL_CORS_ORIGINS: 'https://a.example' }).corsOrigins,
    ).toEqual(['https://a.example']);
    expect(loadConfig({ SATCHEL_ENV: 'development' }).corsOrigins).toBe('*');
    expect(() =>
      loadConfig({
        NODE_ENV: 'production',
        SATCHEL_ENV: 'production',
        SATCHEL_TOKEN_SECRET: '9f8c2e71b4d05a63e8f1c92b7a4d6e03f5b81c2d9e7a6f40b3c5d8e1f2a7b9c4',
        SATCHEL_CORS_ORIGINS: '*',
      }),
    ).toThrow(/SATCHEL_CORS_ORIGINS/);
  });
});

describe('the server answers CORS from the configured list', () => {
  const db = pgliteDatabase();
  let fetchApp: (request: Request) => Response | Promise<Response>;
  beforeAll(async () => {
    const server = await createSatchelServer({
      db: await db,
      tokenSecret: 'test-secret-0123456789abcdef',
      logger: pino({ level: 'silent' }),
      corsOrigin: [...(readCorsOrigins('https://player.example.com,app://satchel', true) as string[])],
    });
    fetchApp = (request) => server.app.fetch(request);
  }, 60_000);
  afterAll(async () => (await db).close());

  const preflight = (origin: string) =>
    fetchApp(
      new Request('http://sync.example.com/v1/sync', {
        method: 'OPTIONS',
        headers: {
          origin,
          'access-control-request-method': 'POST',
          'access-control-request-headers': 'authorization,content-type',
        },
      }),
    );

  it('lets a listed origin call, and names it (not *) in the answer', async () => {
    for (const origin of ['https://player.example.com', 'app://satchel']) {
      const answer = await preflight(origin);
      expect(answer.headers.get('access-control-allow-origin')).toBe(origin);
      const health = await fetchApp(new Request('http://sync.example.com/healthz', { headers: { origin } }));
      expect(health.headers.get('access-control-allow-origin')).toBe(origin);
      expect(health.headers.get('vary')?.toLowerCase()).toContain('origin');
    }
  });

  it('gives an unlisted origin no access-control-allow-origin', async () => {
    const answer = await preflight('https://evil.example');
    expect(answer.headers.get('access-control-allow-origin')).toBeNull();
    const health = await fetchApp(
      new Request('http://sync.example.com/healthz', { headers: { origin: 'https://evil.example' } }),
    );
    expect(health.headers.get('access-control-allow-origin')).toBeNull();
  });
});
