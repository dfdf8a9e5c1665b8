import { createSatchel, heldLicense, isSatchelError } from '@satchel/sdk';
import type { SatchelBridge } from './bridge.js';
import { bridgeFetch } from './bridge-fetch.js';

const TITLE = 'quiet-river';
const bridge: SatchelBridge = window.satchelNet;

const log = (line: string) => {
  const p = document.createElement('p');
  p.textContent = line;
  document.body.append(p);
};

const satchel = createSatchel({ baseUrl: bridge.serverUrl, fetch: bridgeFetch(bridge) });
bridge.onWake(() => void satchel.sync().catch(() => undefined));
// At quit, let a sync in flight finish and the storage close before the app goes.
bridge.onQuit(() => void satchel.close().finally(() => bridge.closed()));

const status = await satchel.status();
if (!status.registered) {
  if (bridge.enrolmentToken === null) throw new Error('Start the app with SATCHEL_ENROLMENT_TOKEN set');
  await satchel.register(bridge.enrolmentToken, { name: 'Electron player', platform: 'electron' });
}

// After a restart the device already holds the licence: find it among licenses() (works offline).
const held = heldLicense(await satchel.licenses(), TITLE);
let licenseId = held?.licenseId ?? null;
if (licenseId === null) {
  const grant = await satchel.requestDownload(TITLE);
  if (grant.ok) licenseId = grant.license.licenseId;
  else log(`Refused: ${grant.refusal.message} (${grant.refusal.code})`);
}

if (licenseId !== null) {
  if (held?.status !== 'downloaded') {
    // ...fetch and store the media, then:
    await satchel.downloadCompleted(licenseId);
    log('Downloaded');
  } else {
    log('Already downloaded on this device');
  }
  const decision = await satchel.startPlayback(licenseId);
  if (decision.allowed) {
    log(`Playing: ${Math.round(decision.timeLeftMs / 3_600_000)} h left`);
    await satchel.stopPlayback(licenseId, 42_000);
  } else {
    log(`Cannot play: ${decision.message} (${decision.reason})`);
  }
}

try {
  const result = await satchel.sync();
  log(`synced: ${result.acknowledged} events acknowledged, ${result.pending} waiting`);
} catch (error) {
  if (isSatchelError(error, 'NETWORK') || isSatchelError(error, 'TIMEOUT')) {
    log('offline: the events stay in the outbox and go at the next sync');
  } else {
    throw error;
  }
}
