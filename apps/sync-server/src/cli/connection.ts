import { hostname } from 'node:os';
import { createSatchelServer, openDatabase, Tokens } from '@satchel/server';
import { pino } from 'pino';
import { loadConfig } from '../config.js';
import { dataDirOwner, lockDataDir } from '../data-dir-lock.js';

/** A wire error the API answered with (`code` from the closed set, HTTP `status`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'SatchelCliApiError';
  }
}

/** How the CLI reaches the admin API: a running server over HTTP, or the database in this process. */
export interface Api {
  readonly mode: 'server' | 'local';
  /** One line for people: where the commands go ("server http://…", "local database …"). */
  readonly where: string;
  /** Calls the admin API; resolves with the JSON answer, throws {@link ApiError} for an error answer. */
  request<T = unknown>(method: string, path: string, body?: unknown): Promise<T>;
  close(): Promise<void>;
}

/** Where to connect, from the command line and the environment. */
export interface ConnectOptions {
  /** `--server` (else `SATCHEL_SERVER`). */
  readonly server?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
}

async function call<T>(
  fetcher: (r: Request) => Promise<Response>,
  base: string,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetcher(
    new Request(`${base}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }),
  );
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ApiError(
      response.status,
      'BAD_RESPONSE',
      `${method} ${path}: HTTP ${response.status}, not JSON: ${text.slice(0, 200)}`,
    );
  }
  if (!response.ok) {
    const error = (json as { error?: { code?: string; message?: string } }).error;
    throw new ApiError(
      response.status,
      error?.code ?? 'HTTP_ERROR',
      error?.message ?? `HTTP ${response.status}`,
    );
  }
  return json as T;
}

/**
 * Connects the CLI. With `--server`/`SATCHEL_SERVER`, or when a server is running on the PGlite data
 * directory, the commands go to that server's admin API over HTTP (token: `SATCHEL_OPERATOR_TOKEN`, else
 * an admin token minted from `SATCHEL_TOKEN_SECRET`). Otherwise (no server running) the CLI opens the
 * database itself and runs the same API in this process: the local mode.
 */
export async function connect(options: ConnectOptions = {}): Promise<Api> {
  const env = options.env ?? process.env;
  const config = loadConfig(env, { defaultEnv: 'development' });
  const mintAdmin = async () =>
    (
      await new Tokens(config.tokenSecret).mint({
        kind: 'operator',
        operatorId: `cli@${hostname()}`,
        role: 'admin',
      })
    ).token;
  const explicit = options.server ?? env.SATCHEL_SERVER;
  const running = explicit || config.databaseUrl ? null : await dataDirOwner(config.dataDir);
  const url = explicit ?? running?.url ?? null;
  if (running !== null && url === null) {
    throw new Error(
      `The server (pid ${running.pid}) owns ${config.dataDir} but does not listen yet; retry, or pass --server.`,
    );
  }
  if (url !== null) {
    const base = url.replace(/\/+$/, '');
    const token = env.SATCHEL_OPERATOR_TOKEN || (await mintAdmin());
    return {
      mode: 'server',
      where: `server ${base}${running ? ` (pid ${running.pid}, owner of ${config.dataDir})` : ''}`,
      request: (method, path, body) => call((r) => fetch(r), base, token, method, path, body),
      close: async () => {},
    };
  }
  // Local mode holds the PGlite directory's lock while it has the database open: a server started
  // meanwhile refuses to open it too.
  const lock = config.databaseUrl ? null : await lockDataDir(config.dataDir);
  let db: Awaited<ReturnType<typeof openDatabase>>;
  try {
    db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  } catch (e) {
    await lock?.release();
    throw e;
  }
  try {
    const server = await createSatchelServer({
      db,
      tokenSecret: config.tokenSecret,
      logger: pino({ level: 'silent' }),
    });
    const token = await mintAdmin();
    return {
      mode: 'local',
      where: `local database ${config.databaseUrl ? 'DATABASE_URL' : config.dataDir} (no server running)`,
      request: (method, path, body) =>
        call(async (r) => server.app.fetch(r), 'http://satchel.local', token, method, path, body),
      close: async () => {
        await db.close();
        await lock?.release();
      },
    };
  } catch (e) {
    await db.close();
    await lock?.release();
    throw e;
  }
}
