import { join, normalize, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { app, BrowserWindow, ipcMain, net, powerMonitor, protocol, session } from 'electron';
import { type BridgeRequest, CHANNEL } from './bridge.js';
import { forwarder } from './forward.js';

const SERVER = new URL(process.env.SATCHEL_SERVER ?? 'http://localhost:8787/');
// A persistent partition: without the `persist:` prefix the outbox would live in memory only.
const PARTITION = 'persist:satchel';
const RENDERER = join(__dirname, 'renderer');

// A stable, privileged origin for the UI (app://player): IndexedDB is per origin, so keep the scheme and
// host across releases. Must run before the app is ready.
protocol.registerSchemesAsPrivileged([
  { scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: true, corsEnabled: true } },
]);

/** Serves the renderer's files under app://player/, never anything outside its folder. */
function serveRenderer(request: Request): Promise<Response> | Response {
  const { pathname } = new URL(request.url);
  const file = normalize(join(RENDERER, decodeURIComponent(pathname === '/' ? '/index.html' : pathname)));
  if (!file.startsWith(RENDERER + sep)) return new Response('Not found', { status: 404 });
  return net.fetch(pathToFileURL(file).toString());
}

async function start(): Promise<void> {
  await app.whenReady();
  const partition = session.fromPartition(PARTITION);
  // Protocols belong to a session: register app:// on the partition the window uses.
  partition.protocol.handle('app', serveRenderer);
  // The renderer's sync requests go out through net.fetch (see forward.ts).
  const forward = forwarder((url, init) => net.fetch(url, init), SERVER);
  ipcMain.handle(CHANNEL.fetch, (_event, request: BridgeRequest) => forward(request));
  ipcMain.on(CHANNEL.config, (event) => {
    event.returnValue = {
      serverUrl: SERVER.toString(),
      enrolmentToken: process.env.SATCHEL_ENROLMENT_TOKEN ?? null,
    };
  });

  const window = new BrowserWindow({
    width: 900,
    height: 600,
    webPreferences: {
      partition: PARTITION,
      preload: join(__dirname, 'preload.cjs'),
      contextIsolation: true,
      sandbox: true,
    },
  });
  // The renderer syncs on wake-up: the SDK hears the browser's `online` event, not the machine resuming.
  const wake = () => window.webContents.send(CHANNEL.wake);
  powerMonitor.on('resume', wake);
  powerMonitor.on('unlock-screen', wake);
  // At quit, the renderer closes its client first (a sync in flight finishes), for 5 s at most.
  let closing = false;
  app.on('before-quit', (event) => {
    if (closing || window.isDestroyed()) return;
    closing = true;
    event.preventDefault();
    const quit = () => app.quit();
    const timer = setTimeout(quit, 5000);
    ipcMain.once(CHANNEL.closed, () => {
      clearTimeout(timer);
      quit();
    });
    window.webContents.send(CHANNEL.quit);
  });
  await window.loadURL('app://player/index.html');
}

app.on('window-all-closed', () => app.quit());
start().catch((error: unknown) => {
  console.error(error);
  app.exit(1);
});
