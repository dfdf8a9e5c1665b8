// The contract between the preload script and the renderer: what the preload exposes on `window`.

/** A request as it crosses the process boundary (structured-clone friendly). */
export interface BridgeRequest {
  url: string;
  method: string;
  headers: Array<[string, string]>;
  body: string | null;
}

/** A response as it crosses back. */
export interface BridgeResponse {
  status: number;
  statusText: string;
  headers: Array<[string, string]>;
  body: string;
}

/** What the preload exposes as `window.satchelNet`. */
export interface SatchelBridge {
  /** The sync server the main process forwards to. */
  serverUrl: string;
  /** The enrolment token the main process was started with (a demo convenience), or null. */
  enrolmentToken: string | null;
  /** Sends a request through the main process's `net.fetch`. Rejects (TypeError) when it cannot be sent. */
  fetch(request: BridgeRequest): Promise<BridgeResponse>;
  /** Calls `listener` when the main process says the machine woke up or came back online. */
  onWake(listener: () => void): void;
  /**
   * Calls `listener` when the app is quitting; the app waits (a few seconds at most) until the renderer
   * calls `closed()`, so a sync in flight can finish and the storage close cleanly.
   */
  onQuit(listener: () => void): void;
  /** Tells the main process the client is closed and the app may quit. */
  closed(): void;
}

declare global {
  interface Window {
    satchelNet: SatchelBridge;
  }
}

/** IPC channels between main and preload. */
export const CHANNEL = {
  fetch: 'satchel:fetch',
  wake: 'satchel:wake',
  config: 'satchel:config',
  quit: 'satchel:quit',
  closed: 'satchel:closed',
} as const;
