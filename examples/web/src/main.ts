import { createSatchel, heldLicense, isSatchelError } from '@satchel/sdk';

const TITLE = 'quiet-river';

const log = (line: string) => {
  const p = document.createElement('p');
  p.textContent = line;
  document.body.append(p);
};

const satchel = createSatchel({ baseUrl: `${location.origin}/` });
satchel.subscribe((change) => {
  if (change.source === 'remote') log(`another tab changed the ${change.type}`);
});

const status = await satchel.status();
if (!status.registered) {
  const enrolment = new URL(location.href).searchParams.get('enrol');
  if (enrolment === null) throw new Error('Open this page once with ?enrol=<enrolment token>');
  await satchel.register(enrolment, { name: 'Web player', platform: 'web' });
}

// After a reload the device already holds the licence (the server would refuse a second one with
// ALREADY_LICENSED, naming it in refusal.licenseId): find it among licenses(), which works offline.
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

  // Decided offline, from the cached snapshot and the secure clock.
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
