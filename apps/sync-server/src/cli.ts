import { type AccountState, deviceView, licenseView } from '@satchel/core';
import { createSatchelServer, openDatabase, type SatchelServer, Tokens } from '@satchel/server';
import { pino } from 'pino';
import { dataDirOwner, loadConfig } from './config.js';

const USAGE = `Usage: pnpm satchel <command>

  token account <accountId> [--ttl <seconds>]            an account (enrolment/admin) token
  token device <accountId> <deviceId> [--ttl <seconds>]  a device token
  accounts                                               list accounts
  create-account <accountId> [name]                      create and open an account (idempotent)
  devices <accountId>                                    the account's devices
  licenses <accountId>                                   the account's licences
  history <accountId>                                    every event of the account, oldest first
  state <accountId> [--at <ISO-8601 | epoch ms>]         the account as it was at an instant (default: now)
  withdraw <titleId> [--at <ISO-8601 | epoch ms>]        withdraw a title from the catalogue (default: now)

The database is the server's: DATABASE_URL, else the PGlite directory SATCHEL_DATA_DIR (.satchel-data).
Tokens are signed with SATCHEL_TOKEN_SECRET (the development secret when unset).`;

const iso = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString());

function option(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const value = args[i + 1];
  args.splice(i, 2);
  return value;
}

function parseInstant(text: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  if (!Number.isFinite(n)) throw new Error(`Not an instant: ${text}`);
  return n;
}

function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length))) ?? [];
  return rows
    .map((r) =>
      r
        .map((cell, c) => cell.padEnd(widths[c] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

function printState(state: AccountState, at: number): void {
  console.log(
    `account ${state.accountId}  version ${state.version}  plan ${state.plan.planId} (${state.plan.maxDownloadDevices} download devices)`,
  );
  console.log('\nDevices');
  const devices = Object.values(state.devices).map(deviceView);
  console.log(
    devices.length === 0
      ? '  (none)'
      : table([
          ['device', 'name', 'status', 'registered', 'deactivated'],
          ...devices.map((d) => [d.deviceId, d.name, d.status, iso(d.registeredAt), iso(d.deactivatedAt)]),
        ]),
  );
  console.log('\nLicences');
  const licenses = Object.values(state.licenses).map((l) => licenseView(l, null));
  console.log(
    licenses.length === 0
      ? '  (none)'
      : table([
          ['licence', 'title', 'device', 'status', 'issued', 'first played', 'expires', 'bound by'],
          ...licenses.map((l) => [
            l.licenseId,
            l.titleId,
            l.deviceId,
            l.status === 'issued' || l.status === 'downloaded'
              ? l.expiresAt <= at
                ? `${l.status}, past expiry`
                : l.status
              : `${l.status}${l.statusReason ? ` (${l.statusReason})` : ''}`,
            iso(l.issuedAt),
            iso(l.firstPlayedAt),
            iso(l.expiresAt),
            l.expiryReason,
          ]),
        ]),
  );
}

async function withServer<T>(fn: (server: SatchelServer) => Promise<T>): Promise<T> {
  const config = loadConfig();
  if (!config.databaseUrl) {
    const owner = dataDirOwner(config.dataDir);
    if (owner !== null) {
      throw new Error(
        `The server (pid ${owner}) is using the PGlite directory ${config.dataDir}; embedded PGlite allows one process. ` +
          'Stop it first, or run the server and the CLI with DATABASE_URL.',
      );
    }
  }
  const db = await openDatabase({ databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    const server = await createSatchelServer({
      db,
      tokenSecret: config.tokenSecret,
      logger: pino({ level: 'silent' }),
    });
    return await fn(server);
  } finally {
    await db.close();
  }
}

async function main(argv: string[]): Promise<number> {
  const args = [...argv];
  const ttl = option(args, '--ttl');
  const atText = option(args, '--at');
  const [command, ...rest] = args;
  switch (command) {
    case 'token': {
      const [kind, accountId, deviceId] = rest;
      const tokens = new Tokens(loadConfig().tokenSecret);
      const ttlSec = ttl === undefined ? undefined : Number(ttl);
      if (kind === 'account' && accountId) {
        const t = await tokens.mint({ kind: 'account', accountId }, Date.now(), ttlSec);
        console.log(t.token);
        console.error(`account ${accountId}, expires ${iso(t.expiresAt)}`);
        return 0;
      }
      if (kind === 'device' && accountId && deviceId) {
        const t = await tokens.mint({ kind: 'device', accountId, deviceId }, Date.now(), ttlSec);
        console.log(t.token);
        console.error(`device ${deviceId} of account ${accountId}, expires ${iso(t.expiresAt)}`);
        return 0;
      }
      break;
    }
    case 'accounts':
      return withServer(async (s) => {
        for (const id of await s.service.accountIds()) console.log(id);
        return 0;
      });
    case 'create-account': {
      const [accountId, ...name] = rest;
      if (!accountId) break;
      return withServer(async (s) => {
        const { created } = await s.service.createAccount(accountId, name.join(' ') || accountId);
        console.log(created ? `created ${accountId}` : `${accountId} already exists`);
        return 0;
      });
    }
    case 'withdraw': {
      const [titleId] = rest;
      if (!titleId) break;
      return withServer(async (s) => {
        const at = atText === undefined ? undefined : parseInstant(atText);
        const { accounts, revoked } = await s.service.withdrawTitle(titleId, at);
        console.log(
          `${titleId} leaves the catalogue at ${iso(at ?? Date.now())}: ${accounts} accounts recorded it, ${revoked} licences revoked`,
        );
        return 0;
      });
    }
    case 'devices':
    case 'licenses':
    case 'history':
    case 'state': {
      const [accountId] = rest;
      if (!accountId) break;
      return withServer(async (s) => {
        if (!(await s.service.accountExists(accountId))) {
          console.error(`No account ${accountId}`);
          return 1;
        }
        if (command === 'devices') {
          const devices = await s.service.devices(accountId);
          console.log(
            table([
              ['device', 'name', 'status', 'registered', 'deactivated'],
              ...devices.map((d) => [
                d.deviceId,
                d.name,
                d.status,
                iso(d.registeredAt),
                iso(d.deactivatedAt),
              ]),
            ]),
          );
        } else if (command === 'licenses') {
          const { licenses } = await s.service.licenses(accountId);
          console.log(
            table([
              ['licence', 'title', 'device', 'status', 'renewals', 'issued', 'expires', 'bound by'],
              ...licenses.map((l) => [
                l.licenseId,
                l.titleId,
                l.deviceId,
                l.status + (l.statusReason ? ` (${l.statusReason})` : ''),
                String(l.renewals),
                iso(l.issuedAt),
                iso(l.expiresAt),
                l.expiryReason,
              ]),
            ]),
          );
        } else if (command === 'history') {
          const history = await s.service.history(accountId);
          console.log(
            table([
              ['v', 'recorded', 'type', 'from', 'data'],
              ...history.map(({ stored, event }) => [
                String(stored.streamVersion),
                iso(stored.recordedAt),
                event.type,
                stored.metadata.deviceId
                  ? `device ${stored.metadata.deviceId.slice(-8)} #${stored.metadata.seq}`
                  : 'server',
                JSON.stringify(event.data).slice(0, 100),
              ]),
            ]),
          );
        } else {
          const at = atText === undefined ? Date.now() : parseInstant(atText);
          console.log(`State at ${iso(at)} (events recorded up to then, replayed)\n`);
          printState(await s.service.stateAt(accountId, at), at);
        }
        return 0;
      });
    }
  }
  console.error(USAGE);
  return command === undefined || command === 'help' || command === '--help' ? 0 : 2;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (e: unknown) => {
    console.error(`satchel: ${(e as Error).message}`);
    process.exit(1);
  },
);
