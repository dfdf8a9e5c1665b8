/** A simulated device of this page: its name and the IndexedDB database its SDK client uses. */
export interface DeviceConfig {
  index: number;
  name: string;
  dbName: string;
}

/** Per-device simulation settings: the network switch and the clock offset. */
export interface DeviceSim {
  networkOff: boolean;
  clockOffsetMs: number;
  /**
   * Time made to pass on this device by the forward steps (ms, never decreasing): it moves the device's
   * monotonic count too, so "+49 h" is 49 hours going by, while a step back only sets the wall clock back.
   */
  advancedMs?: number;
}

/** What the page remembers across reloads (localStorage; small and synchronous). */
export interface Settings {
  devices: DeviceConfig[];
  sim: Record<string, DeviceSim>;
  /** The account's enrolment token, kept to register more devices and to deactivate devices. */
  enrolmentToken: string | null;
}

const KEY = 'satchel-player:settings';

export function loadSettings(): Settings {
  try {
    const raw = localStorage.getItem(KEY);
    if (raw !== null) {
      const parsed = JSON.parse(raw) as Partial<Settings>;
      if (Array.isArray(parsed.devices) && parsed.devices.length > 0) {
        return {
          devices: parsed.devices,
          sim: parsed.sim ?? {},
          enrolmentToken: parsed.enrolmentToken ?? null,
        };
      }
    }
  } catch {}
  return {
    devices: [{ index: 1, name: 'Living-room laptop', dbName: 'satchel-device-1' }],
    sim: {},
    enrolmentToken: null,
  };
}

export function saveSettings(settings: Settings): void {
  try {
    localStorage.setItem(KEY, JSON.stringify(settings));
  } catch {}
}

export function clearSettings(): void {
  try {
    localStorage.removeItem(KEY);
  } catch {}
}

/** One line of the decision log. `deviceTime` is the device's (possibly simulated) clock. */
export interface LogEntry {
  id?: number;
  realTime: number;
  deviceTime: number;
  device: number;
  kind:
    | 'granted'
    | 'refused'
    | 'allowed'
    | 'denied'
    | 'sync'
    | 'error'
    | 'info'
    | 'revoked'
    | 'ended'
    | 'clock'
    | 'network';
  title: string;
  reason: string;
}

const LOG_DB = 'satchel-player-log';
const LOG_STORE = 'entries';

function request<T>(req: IDBRequest<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    req.onsuccess = () => resolve(req.result);
    req.onerror = () => reject(req.error);
  });
}

/** The decision log, in its own IndexedDB database so it survives reloads and offline restarts. */
export class DecisionLog {
  #db: Promise<IDBDatabase> | null = null;

  #open(): Promise<IDBDatabase> {
    this.#db ??= new Promise((resolve, reject) => {
      const req = indexedDB.open(LOG_DB, 1);
      req.onupgradeneeded = () =>
        req.result.createObjectStore(LOG_STORE, { keyPath: 'id', autoIncrement: true });
      req.onsuccess = () => resolve(req.result);
      req.onerror = () => reject(req.error);
    });
    return this.#db;
  }

  async add(entry: LogEntry): Promise<LogEntry> {
    const db = await this.#open();
    const tx = db.transaction(LOG_STORE, 'readwrite');
    const id = await request(tx.objectStore(LOG_STORE).add(entry));
    return { ...entry, id: Number(id) };
  }

  /** The newest `limit` entries, newest first. */
  async recent(limit = 200): Promise<LogEntry[]> {
    const db = await this.#open();
    const all = (await request(db.transaction(LOG_STORE).objectStore(LOG_STORE).getAll())) as LogEntry[];
    return all.slice(-limit).reverse();
  }

  async clear(): Promise<void> {
    const db = await this.#open();
    await request(db.transaction(LOG_STORE, 'readwrite').objectStore(LOG_STORE).clear());
  }
}
