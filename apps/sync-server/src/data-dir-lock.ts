import { createHash } from 'node:crypto';
import { mkdirSync, realpathSync, rmSync } from 'node:fs';
import { connect, createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Who holds a PGlite data directory: its process and, once it listens, its URL. */
export interface DataDirOwner {
  pid: number;
  url: string | null;
}

/** The lock on a PGlite data directory, held by this process until {@link DataDirLock.release} or exit. */
export interface DataDirLock {
  /** Tells the processes that ask (the CLI) where this server listens. */
  setUrl(url: string): void;
  /** Gives the directory up (also given up when the process ends, however it ends). */
  release(): Promise<void>;
}

/** Thrown by {@link lockDataDir} when another live process holds the directory. */
export class DataDirLockedError extends Error {
  constructor(
    readonly dataDir: string,
    readonly owner: DataDirOwner | null,
  ) {
    super(
      `another server${owner?.pid ? ` (pid ${owner.pid}${owner.url ? `, ${owner.url}` : ''})` : ''} is using the PGlite data directory ${dataDir}: stop it, or give this one its own SATCHEL_DATA_DIR`,
    );
  }
}

/**
 * The address of a directory's lock: a socket only one process can listen on, which the kernel frees
 * the moment that process ends (SIGKILL included), so no stale state survives it. On Linux an abstract
 * Unix socket (no file), on Windows a named pipe, elsewhere a Unix socket file in the temporary directory.
 * Named after the directory's real path, so two spellings of one directory share one lock.
 */
export function lockAddress(dataDir: string): string {
  const id = createHash('sha256').update(realpathSync(dataDir)).digest('hex').slice(0, 32);
  if (process.platform === 'linux') return `\0satchel-pglite-${id}`;
  if (process.platform === 'win32') return `\\\\.\\pipe\\satchel-pglite-${id}`;
  return join(tmpdir(), `satchel-pglite-${id.slice(0, 16)}.sock`);
}

const socketFile = (address: string) => !address.startsWith('\0') && !address.startsWith('\\\\');

/**
 * Takes the lock on `dataDir` (created if missing) for this process. Resolves once held; rejects with
 * {@link DataDirLockedError} when a live process holds it. A lock left by a killed process is taken over
 * at once: nothing of it survives the process (for the socket file used outside Linux and Windows, a
 * file nobody listens on is removed first).
 */
export async function lockDataDir(dataDir: string): Promise<DataDirLock> {
  mkdirSync(dataDir, { recursive: true });
  const address = lockAddress(dataDir);
  let owner: DataDirOwner = { pid: process.pid, url: null };
  const server = createServer((socket) => {
    socket.on('error', () => {});
    socket.end(JSON.stringify(owner));
  });
  server.on('error', () => {});
  for (let attempt = 1; ; attempt++) {
    try {
      await listenOn(server, address);
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw e;
      const holder = await askOwner(address);
      if (holder !== 'nobody' || !socketFile(address) || attempt > 1)
        throw new DataDirLockedError(dataDir, holder === 'nobody' ? null : holder);
      // A socket file left by a process that was killed: nobody answers on it.
      rmSync(address, { force: true });
    }
  }
  server.unref();
  return {
    setUrl: (url) => {
      owner = { ...owner, url };
    },
    release: () => new Promise<void>((done) => server.close(() => done())),
  };
}

/** The process holding `dataDir`, or null when none does (the directory may not exist). */
export async function dataDirOwner(dataDir: string): Promise<DataDirOwner | null> {
  let address: string;
  try {
    address = lockAddress(dataDir);
  } catch {
    return null; // no such directory: nobody holds it
  }
  const holder = await askOwner(address);
  return holder === 'nobody' ? null : holder;
}

function listenOn(server: Server, address: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const onError = (e: Error) => reject(e);
    server.once('error', onError);
    server.listen(address, () => {
      server.off('error', onError);
      resolve();
    });
  });
}

/** Connects to the lock's socket: the holder answers who it is; `nobody` when no process listens. */
function askOwner(address: string): Promise<DataDirOwner | 'nobody'> {
  return new Promise((resolve) => {
    const socket = connect(address);
    let text = '';
    let connected = false;
    const timer = setTimeout(() => socket.destroy(new Error('no answer')), 5_000);
    socket.on('connect', () => {
      connected = true;
    });
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      if (!connected) return resolve('nobody');
      try {
        const { pid, url } = JSON.parse(text) as DataDirOwner;
        resolve({ pid, url: typeof url === 'string' ? url : null });
      } catch {
        // Someone listens but did not say who (busy, or answering late): the directory is held.
        resolve({ pid: 0, url: null });
      }
    });
  });
}
