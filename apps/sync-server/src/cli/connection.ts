import { hostname } from 'node:os';
import { createSatchelServer, DEVELOPMENT_TOKEN_SECRET, openDatabase, Tokens } from '@satchel/server';
import { pino } from 'pino';
import { loadConfig } from '../config.js';
import { dataDirOwner, lockDataDir } from '../data-dir-lock.js';

/** A wire error the API answered with (`code` from the closed set, HTTP `status`). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    /** What the person at the terminal can do about it (e.g. which token to set on a 401). */
    readonly hint?: string,
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
  /** Calls the admin API for a body that is not JSON (e.g. `text/csv`); resolves with it whole. */
  text(method: string, path: string, body?: unknown): Promise<string>;
  /**
   * Calls an admin route that streams NDJSON (`Accept: application/x-ndjson`): `onLine` gets each JSON
   * line as it arrives; resolves when the body has ended. Throws {@link ApiError} for an error answer.
   */
  stream(method: string, path: string, body: unknown, onLine: (value: unknown) => void): Promise<void>;
  /**
   * Local mode only: runs this process's projection runner until the projections have caught up with
   * the feed (where no server runs, nothing else keeps them). Resolves with the events processed.
   */
  catchUpProjections?(): Promise<number>;
  close(): Promise<void>;
}

/** Where to connect, from the command line and the environment. */
export interface ConnectOptions {
  /** `--server` (else `SATCHEL_SERVER`). */
  readonly server?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
}

type Fetcher = (r: Request) => Promise<Response>;

/** The bearer token the CLI sends, and what to tell the person when the server refuses it (401). */
interface Auth {
  readonly token: string;
  readonly unauthorized?: string;
}

/** Sends one admin API request; resolves with the response when it is a success, throws {@link ApiError} otherwise. */
async function send(
  fetcher: Fetcher,
  base: string,
  auth: Auth,
  method: string,
  path: string,
  body?: unknown,
  accept = 'application/json',
): Promise<Response> {
  const headers: Record<string, string> = { authorization: `Bearer ${auth.token}`, accept };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const response = await fetcher(
    new Request(`${base}${path}`, {
      method,
      headers,
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    }),
  );
  if (response.ok) return response;
  const text = await response.text();
  let error: { code?: string; message?: string } | undefined;
  try {
    error = (JSON.parse(text) as { error?: { code?: string; message?: string } }).error;
  } catch {
    throw new ApiError(
      response.status,
      'BAD_RESPONSE',
      `${method} ${path}: HTTP ${response.status}, not JSON: ${text.slice(0, 200)}`,
    );
  }
  throw new ApiError(
    response.status,
    error?.code ?? 'HTTP_ERROR',
    error?.message ?? `HTTP ${response.status}`,
    response.status === 401 ? auth.unauthorized : undefined,
  );
}

async function call<T>(
  fetcher: Fetcher,
  base: string,
  auth: Auth,
  method: string,
  path: string,
  body?: unknown,
): Promise<T> {
  const response = await send(fetcher, base, auth, method, path, body);
  const text = await response.text();
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new ApiError(
      response.status,
      'BAD_RESPONSE',
      `${method} ${path}: HTTP ${response.status}, not JSON: ${text.slice(0, 200)}`,
    );
  }
}

/** Reads an NDJSON body line by line as it arrives, calling `onLine` with each parsed line. */
async function readLines(response: Response, onLine: (value: unknown) => void): Promise<void> {
  if (!response.body) return;
  const decoder = new TextDecoder();
  let pending = '';
  for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
    pending += decoder.decode(chunk, { stream: true });
    let nl = pending.indexOf('\n');
    while (nl >= 0) {
      const line = pending.slice(0, nl).trim();
      pending = pending.slice(nl + 1);
      if (line) onLine(JSON.parse(line));
      nl = pending.indexOf('\n');
    }
  }
  pending += decoder.decode();
  if (pending.trim()) onLine(JSON.parse(pending));
}

function api(fetcher: Fetcher, base: string, auth: Auth): Pick<Api, 'request' | 'text' | 'stream'> {
  return {
    request: (method, path, body) => call(fetcher, base, auth, method, path, body),
    text: async (method, path, body) => (await send(fetcher, base, auth, method, path, body, '*/*')).text(),
    stream: async (method, path, body, onLine) =>
      readLines(await send(fetcher, base, auth, method, path, body, 'application/x-ndjson'), onLine),
  };
}

/**
 * What to tell someone whose server refused the CLI's token: the server's own secret signs its tokens,
 * so on a server the CLI does not share a secret with (production) the token must come from outside.
 */
function unauthorizedHint(operatorToken: boolean, tokenSecret: string): string {
  const how =
    "mint one with `pnpm satchel token operator <you> --role admin` where SATCHEL_TOKEN_SECRET is the server's, or have an admin mint one with `--remote`";
  if (operatorToken)
    return `the server refused SATCHEL_OPERATOR_TOKEN: set it to a current operator token of this server (${how})`;
  const signer =
    tokenSecret === DEVELOPMENT_TOKEN_SECRET
      ? 'the public development secret (no SATCHEL_TOKEN_SECRET)'
      : 'SATCHEL_TOKEN_SECRET';
  return `SATCHEL_OPERATOR_TOKEN is not set, so the CLI signed its own admin token with ${signer}, which this server does not accept: set SATCHEL_OPERATOR_TOKEN to an operator token of this server (${how})`;
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
    const operatorToken = Boolean(env.SATCHEL_OPERATOR_TOKEN);
    const token = env.SATCHEL_OPERATOR_TOKEN || (await mintAdmin());
    return {
      mode: 'server',
      where: `server ${base}${running ? ` (pid ${running.pid}, owner of ${config.dataDir})` : ''}`,
      ...api((r) => fetch(r), base, {
        token,
        unauthorized: unauthorizedHint(operatorToken, config.tokenSecret),
      }),
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
      ...api(async (r) => server.app.fetch(r), 'http://satchel.local', { token }),
      catchUpProjections: () => server.projections.catchUp(),
      close: async () => {
        // Gives up the leases a catch-up took, so a server started next runs the projections at once.
        await server.projections.stop();
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
