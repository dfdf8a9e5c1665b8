import type {
  AccountDetail,
  AccountsResponse,
  AdminDevicesResponse,
  ChangePlanResponse,
  CreateAccountResponse,
} from '@satchel/protocol';
import type { CliCommands } from '../context.js';
import { iso } from '../output.js';
import { integer } from '../parse.js';

const deviceRows = (devices: AdminDevicesResponse['devices']) => [
  ['device', 'name', 'status', 'registered', 'deactivated'],
  ...devices.map((d) => [d.deviceId, d.name, d.status, iso(d.registeredAt), iso(d.deactivatedAt)]),
];

/** Accounts (list, search, create, plan), devices (list, deactivate) and licences. */
export const accountCommands: CliCommands = (program, ctx) => {
  program
    .command('accounts')
    .description('list accounts (every page), or search them by id or name')
    .option('-s, --search <text>', 'part of the id or name')
    .action(async (opts: { search?: string }, command) =>
      ctx.run(command, async (api, out) => {
        const accounts: AccountsResponse['accounts'] = [];
        let after: string | null = '';
        while (after !== null) {
          const params = new URLSearchParams({
            limit: '500',
            ...(after ? { after } : {}),
            ...(opts.search ? { q: opts.search } : {}),
          });
          const page: AccountsResponse = await api.request('GET', `/v1/admin/accounts?${params}`);
          accounts.push(...page.accounts);
          after = page.next;
        }
        out.result({ accounts }, () =>
          out.table([
            ['account', 'name', 'created'],
            ...accounts.map((a) => [a.accountId, a.name, iso(a.createdAt)]),
          ]),
        );
      }),
    );
  program
    .command('account')
    .description('one account now: plan, devices, licences')
    .argument('<accountId>')
    .action(async (accountId: string, _opts, command) =>
      ctx.run(command, async (api, out) => {
        const a: AccountDetail = await api.request(
          'GET',
          `/v1/admin/accounts/${encodeURIComponent(accountId)}`,
        );
        out.result(a, () => {
          out.line(`account ${a.accountId} "${a.name}"  created ${iso(a.createdAt)}  version ${a.version}`);
          out.line(
            `plan ${a.plan.planId}: ${a.plan.maxDownloadDevices} download devices, ${a.plan.maxDownloadsPerDevice} per device, ${a.plan.maxDownloadsPerMonth ?? 'no'} monthly limit`,
          );
          out.line('\nDevices');
          out.table(deviceRows(a.devices));
          out.line('\nLicences');
          out.table(licenseRows(a.licenses));
        });
      }),
    );
  program
    .command('create-account')
    .description('create and open an account (idempotent)')
    .argument('<accountId>')
    .argument('[name...]', 'the household name (default: the id)')
    .option('--plan-id <id>', 'plan id (default standard)')
    .option('--devices <n>', 'devices that may hold downloads', integer)
    .option('--per-device <n>', 'active downloads per device', integer)
    .option('--per-month <n>', 'downloads per 30 days', integer)
    .action(async (accountId: string, name: string[], opts: PlanOptions, command) =>
      ctx.run(command, async (api, out) => {
        const plan = planFrom(opts);
        const r: CreateAccountResponse = await api.request('POST', '/v1/admin/accounts', {
          accountId,
          name: name.join(' ') || accountId,
          ...(plan ? { plan } : {}),
        });
        out.result(r, () => out.line(r.created ? `created ${accountId}` : `${accountId} already exists`));
      }),
    );
  program
    .command('plan')
    .description("change an account's plan (a downgrade revokes the excess with LIMIT_CONFLICT)")
    .argument('<accountId>')
    .requiredOption('--plan-id <id>', 'plan id')
    .requiredOption('--devices <n>', 'devices that may hold downloads', integer)
    .option('--per-device <n>', 'active downloads per device (default 100)', integer)
    .option('--per-month <n>', 'downloads per 30 days (default none)', integer)
    .action(async (accountId: string, opts: PlanOptions, command) =>
      ctx.run(command, async (api, out) => {
        const r: ChangePlanResponse = await api.request(
          'PUT',
          `/v1/admin/accounts/${encodeURIComponent(accountId)}/plan`,
          {
            plan: planFrom(opts),
          },
        );
        out.result(r, () => {
          out.line(
            `${accountId} is on plan ${r.plan.planId} (${r.plan.maxDownloadDevices} download devices)`,
          );
          out.line(
            r.revoked.length === 0 ? 'nothing revoked' : `revoked (LIMIT_CONFLICT): ${r.revoked.join(', ')}`,
          );
        });
      }),
    );
  program
    .command('devices')
    .description("an account's devices")
    .argument('<accountId>')
    .action(async (accountId: string, _opts, command) =>
      ctx.run(command, async (api, out) => {
        const r: AdminDevicesResponse = await api.request(
          'GET',
          `/v1/admin/accounts/${encodeURIComponent(accountId)}/devices`,
        );
        out.result(r, () => out.table(deviceRows(r.devices)));
      }),
    );
  program
    .command('deactivate')
    .description('deactivate a device (its licences are revoked)')
    .argument('<accountId>')
    .argument('<deviceId>')
    .action(async (accountId: string, deviceId: string, _opts, command) =>
      ctx.run(command, async (api, out) => {
        const r: AdminDevicesResponse = await api.request(
          'POST',
          `/v1/admin/accounts/${encodeURIComponent(accountId)}/devices/${encodeURIComponent(deviceId)}/deactivate`,
        );
        out.result(r, () => out.table(deviceRows(r.devices)));
      }),
    );
  program
    .command('licenses')
    .description("an account's licences now")
    .argument('<accountId>')
    .action(async (accountId: string, _opts, command) =>
      ctx.run(command, async (api, out) => {
        const a: AccountDetail = await api.request(
          'GET',
          `/v1/admin/accounts/${encodeURIComponent(accountId)}`,
        );
        out.result({ licenses: a.licenses }, () => out.table(licenseRows(a.licenses)));
      }),
    );
};

interface PlanOptions {
  planId?: string;
  devices?: number;
  perDevice?: number;
  perMonth?: number;
}

function planFrom(opts: PlanOptions) {
  if (opts.planId === undefined && opts.devices === undefined) return undefined;
  return {
    planId: opts.planId ?? 'custom',
    maxDownloadDevices: opts.devices ?? 2,
    maxDownloadsPerDevice: opts.perDevice ?? 100,
    maxDownloadsPerMonth: opts.perMonth ?? null,
  };
}

function licenseRows(licenses: AccountDetail['licenses']) {
  return [
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
  ];
}
