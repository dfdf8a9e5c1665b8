// The page of test/react/hooks.browser.test.ts: the real SDK (IndexedDB, tabs) against the protocol
// stand-in running in the page, and components that render what each hook returns.
import { policy } from '@satchel/core';
import { SatchelProvider, useLicenses, usePlaybackDecision, useSatchel, useSyncStatus } from '@satchel/react';
import { createSatchel, type SatchelClient } from '@satchel/sdk';
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { FakeServer } from '../../packages/sdk/src/fake-server.testkit.js';

const server = new FakeServer(
  () => Date.now(),
  'account-1',
  undefined,
  // One minute to watch after the first playback; thirty days to start it.
  new Map([['short-film', policy({ playbackDurationSec: 60 })]]),
);
const real = createSatchel({ baseUrl: 'https://sync.test/', fetch: server.fetch, autoSync: false });

/** Every read the hooks make goes through here, so the test can tell waiting from polling. */
const reads = { licenses: 0, status: 0 };
const client: SatchelClient = {
  register: (token, device) => real.register(token, device),
  requestDownload: (titleId) => real.requestDownload(titleId),
  downloadCompleted: (id) => real.downloadCompleted(id),
  startPlayback: (id, options) => real.startPlayback(id, options),
  stopPlayback: (id, positionMs) => real.stopPlayback(id, positionMs),
  deleteDownload: (id) => real.deleteDownload(id),
  renew: (id) => real.renew(id),
  sync: () => real.sync(),
  snapshot: () => real.snapshot(),
  credential: () => real.credential(),
  close: () => real.close(),
  subscribe: (listener) => real.subscribe(listener),
  licenses: () => {
    reads.licenses++;
    return real.licenses();
  },
  status: () => {
    reads.status++;
    return real.status();
  },
};

const renders = { licenses: 0, decision: 0, status: 0 };

function Licenses() {
  const { data, isLoading, error } = useLicenses();
  renders.licenses++;
  return (
    <pre id="licenses" data-loading={String(isLoading)} data-error={error?.message ?? ''}>
      {JSON.stringify(
        data.map((l) => ({ titleId: l.titleId, status: l.status, allowed: l.playback.allowed })),
      )}
    </pre>
  );
}

function Decision({ licenseId }: { licenseId: string }) {
  const { data } = usePlaybackDecision(licenseId);
  renders.decision++;
  return (
    <pre id="decision">
      {data === null ? 'none' : data.allowed ? `allowed until ${data.expiresAt}` : `refused ${data.reason}`}
    </pre>
  );
}

function Status() {
  const { data } = useSyncStatus();
  const satchel = useSatchel();
  renders.status++;
  return (
    <pre id="status" data-same-client={String(satchel === client)}>
      {data === null
        ? 'loading'
        : `registered=${data.registered} pending=${data.pendingEvents} online=${data.online}`}
    </pre>
  );
}

let licenseId = new URL(location.href).searchParams.get('license') ?? '';
const root = createRoot(
  document.getElementById('root') ?? document.body.appendChild(document.createElement('div')),
);
function render(): void {
  root.render(
    <StrictMode>
      <SatchelProvider client={client}>
        <Status />
        <Licenses />
        <Decision licenseId={licenseId} />
      </SatchelProvider>
    </StrictMode>,
  );
}
render();

Object.assign(globalThis, {
  T: {
    client,
    server,
    reads,
    renders,
    watch(id: string) {
      licenseId = id;
      render();
    },
    unmount() {
      root.unmount();
    },
  },
});
