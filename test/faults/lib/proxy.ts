import { connect, createServer, type Server, type Socket } from 'node:net';

/** Probabilities (per chunk of bytes) and sizes of the faults a {@link FaultProxy} injects. */
export interface ProxyFaults {
  /** A request chunk is not forwarded: both connections are closed (the request may be cut short). */
  drop: number;
  /** An answer chunk is cut in half and the client connection reset (the server did the work). */
  reset: number;
  /** A chunk, either way, is held back `delayMs` (order is kept); long enough for a client timeout. */
  delay: number;
  delayMs: number;
  /** A request chunk is also sent again on a second connection, whose answer is thrown away. */
  replay: number;
}

export interface ProxyStats {
  connections: number;
  dropped: number;
  resets: number;
  delayed: number;
  replayed: number;
}

/**
 * A TCP proxy (node:net) between clients and a server that drops, resets mid-answer, delays and replays
 * traffic at random. `faults` can be changed (or zeroed) at any time.
 */
export class FaultProxy {
  readonly stats: ProxyStats = { connections: 0, dropped: 0, resets: 0, delayed: 0, replayed: 0 };
  private readonly sockets = new Set<Socket>();

  private constructor(
    private readonly server: Server,
    readonly port: number,
    public faults: ProxyFaults,
  ) {}

  static start(targetPort: number, faults: ProxyFaults): Promise<FaultProxy> {
    return new Promise((resolve) => {
      let proxy: FaultProxy | null = null;
      const server = createServer((client) => proxy?.pipe(client, targetPort));
      server.listen(0, '127.0.0.1', () => {
        const address = server.address();
        proxy = new FaultProxy(server, typeof address === 'object' && address ? address.port : 0, faults);
        resolve(proxy);
      });
    });
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  private track(socket: Socket): Socket {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => {});
    return socket;
  }

  private pipe(client: Socket, targetPort: number): void {
    this.stats.connections++;
    this.track(client);
    const upstream = this.track(connect(targetPort, '127.0.0.1'));
    let up = Promise.resolve();
    let down = Promise.resolve();
    const kill = () => {
      client.destroy();
      upstream.destroy();
    };
    const hold = async () => {
      if (Math.random() < this.faults.delay) {
        this.stats.delayed++;
        await new Promise((r) => setTimeout(r, this.faults.delayMs));
      }
    };
    client.on('data', (chunk: Buffer) => {
      up = up.then(async () => {
        await hold();
        if (client.destroyed || upstream.destroyed) return;
        if (Math.random() < this.faults.drop) {
          this.stats.dropped++;
          kill();
          return;
        }
        if (Math.random() < this.faults.replay) {
          this.stats.replayed++;
          const again = this.track(connect(targetPort, '127.0.0.1', () => again.write(chunk)));
          again.on('data', () => {});
          setTimeout(() => again.destroy(), 5_000).unref();
        }
        upstream.write(chunk);
      });
    });
    upstream.on('data', (chunk: Buffer) => {
      down = down.then(async () => {
        await hold();
        if (client.destroyed) return;
        if (Math.random() < this.faults.reset) {
          this.stats.resets++;
          client.write(chunk.subarray(0, Math.floor(chunk.length / 2)));
          client.resetAndDestroy();
          upstream.destroy();
          return;
        }
        client.write(chunk);
      });
    });
    client.on('end', () => void up.then(() => upstream.end()));
    upstream.on('end', () => void down.then(() => client.end()));
    client.on('close', () => void up.then(() => upstream.destroy()));
    upstream.on('close', () => void down.then(() => client.destroy()));
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
