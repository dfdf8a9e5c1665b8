import type { Plan } from '@satchel/core';
import { createSatchelServer, type Database } from '@satchel/server';
import { pino } from 'pino';
import { uuidv7 } from './devices.js';

/** The token secret every fault test's server signs with. */
export const FAULTS_SECRET = 'faults-secret-0123456789abcdef-0123';

/** A plan roomy enough that the rules never get in the way of a fault test. */
export const ROOMY_PLAN: Plan = {
  planId: 'faults',
  maxDownloadDevices: 1000,
  maxDownloadsPerDevice: 1000,
  maxDownloadsPerMonth: null,
  // Registered devices are limited too (R26, 10 by default): the fuzz test alone registers 17 on one account.
  maxRegisteredDevices: 1000,
};

export interface SeededDevice {
  accountId: string;
  deviceId: string;
  token: string;
}

/**
 * Migrates `db`, creates `accounts` accounts with `devicesPerAccount` registered devices each, and mints
 * their device tokens with {@link FAULTS_SECRET}. Leaves `db` open.
 */
export async function seedDevices(
  db: Database,
  accounts: number,
  devicesPerAccount: number,
  prefix = 'faults',
): Promise<SeededDevice[]> {
  const server = await createSatchelServer({
    db,
    tokenSecret: FAULTS_SECRET,
    logger: pino({ level: 'silent' }),
  });
  const out: SeededDevice[] = [];
  for (let a = 0; a < accounts; a++) {
    const accountId = `${prefix}-${a}-${uuidv7().slice(-8)}`;
    await server.service.createAccount(accountId, `Fault household ${a}`, ROOMY_PLAN);
    for (let d = 0; d < devicesPerAccount; d++) {
      const { deviceId } = await server.service.registerDevice(accountId, {
        deviceId: uuidv7(),
        name: `device ${d}`,
      });
      const { token } = await server.tokens.mint({ kind: 'device', accountId, deviceId });
      out.push({ accountId, deviceId, token });
    }
  }
  return out;
}
