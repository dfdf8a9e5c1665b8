import type { AccountStateResponse, HistoryResponse } from '@satchel/protocol';
import { Option } from 'commander';
import type { CliCommands } from '../context.js';
import { iso, type Output } from '../output.js';
import { instant } from '../parse.js';

/** An account's history and its state at any instant, with the reasons. */
export const historyCommands: CliCommands = (program, ctx) => {
  program
    .command('history')
    .description('every event of an account, oldest first (every page, nothing cut)')
    .argument('<accountId>')
    .option('--type <types>', 'event types, comma-separated')
    .option('--device <deviceId>', 'events of this device and its licences')
    .option('--license <licenseId>', 'events of this licence')
    .option('--from <instant>', 'events at or after this instant', instant)
    .option('--to <instant>', 'events before this instant', instant)
    .action(
      async (
        accountId: string,
        opts: { type?: string; device?: string; license?: string; from?: number; to?: number },
        command,
      ) =>
        ctx.run(command, async (api, out) => {
          const events: HistoryResponse['events'] = [];
          let after: number | null = 0;
          while (after !== null) {
            const params = new URLSearchParams({ limit: '1000', after: String(after) });
            if (opts.type) params.set('type', opts.type);
            if (opts.device) params.set('device', opts.device);
            if (opts.license) params.set('license', opts.license);
            if (opts.from !== undefined) params.set('from', String(opts.from));
            if (opts.to !== undefined) params.set('to', String(opts.to));
            const page: HistoryResponse = await api.request(
              'GET',
              `/v1/admin/accounts/${encodeURIComponent(accountId)}/history?${params}`,
            );
            events.push(...page.events);
            after = page.next;
          }
          out.result({ events }, () =>
            out.table([
              ['v', 'at', 'recorded', 'type', 'from', 'data'],
              ...events.map((e) => [
                String(e.version),
                iso(e.at),
                iso(e.recordedAt),
                e.type,
                typeof e.metadata.deviceId === 'string'
                  ? `device ${e.metadata.deviceId} #${String(e.metadata.seq)}`
                  : 'server',
                JSON.stringify(e.data),
              ]),
            ]),
          );
        }),
    );
  program
    .command('state')
    .description('the account at an instant, with the reasons (the same fold and rules as the server)')
    .argument('<accountId>')
    .option('--at <instant>', 'ISO-8601 or epoch ms (default now)', instant)
    .addOption(
      new Option(
        '--basis <basis>',
        'occurred: events dated up to then; recorded: events the server had by then',
      )
        .choices(['occurred', 'recorded'])
        .default('occurred'),
    )
    .action(async (accountId: string, opts: { at?: number; basis: string }, command) =>
      ctx.run(command, async (api, out) => {
        const params = new URLSearchParams({
          basis: opts.basis,
          ...(opts.at === undefined ? {} : { at: String(opts.at) }),
        });
        const s: AccountStateResponse = await api.request(
          'GET',
          `/v1/admin/accounts/${encodeURIComponent(accountId)}/state?${params}`,
        );
        out.result(s, () => printState(out, s));
      }),
    );
};

const ref = (r: { type: string; version: number; eventId: string; at: number }) =>
  `${r.type} #${r.version} ${r.eventId} at ${iso(r.at)}`;

function printState(out: Output, s: AccountStateResponse): void {
  out.line(
    `State of ${s.accountId} at ${iso(s.at)} (${s.basis === 'occurred' ? 'events dated up to then' : 'events recorded by then'})`,
  );
  if (!s.exists || s.plan === null) {
    out.line('The account did not exist yet.');
    return;
  }
  out.line(
    `version ${s.version}; plan ${s.plan.planId}: ${s.plan.maxDownloadDevices} download devices, ${s.plan.maxDownloadsPerDevice} per device${s.planSetBy ? ` (set by ${ref(s.planSetBy)})` : ''}`,
  );
  out.line('\nDevices');
  out.table([
    ['device', 'name', 'status', 'last check-in', 'last sync', 'rollbacks'],
    ...s.devices.map((d) => [
      d.deviceId,
      d.name,
      d.status,
      iso(d.lastCheckInAt),
      iso(d.lastSyncAt),
      String(d.clockRollbacks),
    ]),
  ]);
  out.line('\nDownload slots');
  if (s.slots) {
    out.line(
      `${s.slots.holders.length} of ${s.slots.maxDownloadDevices} devices hold downloads; ${s.slots.downloadsThisMonth} downloads in the last 30 days${s.slots.maxDownloadsPerMonth === null ? '' : ` of ${s.slots.maxDownloadsPerMonth}`}`,
    );
    for (const h of s.slots.holders) out.line(`  ${h.deviceId}: ${h.licenseIds.join(', ')}`);
  }
  out.line('\nLicences');
  if (s.licenses.length === 0) out.line('  (none)');
  for (const l of s.licenses) {
    out.line(`${l.licenseId}  ${l.titleId}  on ${l.deviceId}`);
    out.line(
      `  status ${l.status}${l.statusReason ? ` (${l.statusReason})` : ''}${l.pending ? ' — the rules say so; not recorded yet' : ''}; ${l.playable ? 'playable' : 'not playable'}`,
    );
    out.line(`  expires ${iso(l.expiresAt)}, bound by ${l.bound}: ${l.rule}`);
    out.line(
      `  policy version ${l.policyVersion ?? '-'}; issued ${iso(l.issuedAt)}, downloaded ${iso(l.downloadedAt)}, first played ${iso(l.firstPlayedAt)}, renewals ${l.renewals}`,
    );
    out.line(`  bounds: ${l.bounds.map((b) => `${b.reason} ${iso(b.at)}`).join(', ')}`);
    for (const r of l.setBy) out.line(`  because of ${ref(r)}`);
  }
  out.line('\nAllowances (limited titles)');
  if (s.allowances.length === 0) out.line('  (none)');
  for (const a of s.allowances) {
    out.line(
      `${a.titleId}: ${a.used} of ${a.limit} used, ${a.remaining} left${a.nextAvailableAt ? `, next frees ${iso(a.nextAvailableAt)}` : ''}`,
    );
    for (const u of a.uses)
      out.line(`  used ${iso(u.at)}, frees ${iso(u.freesAt)}${u.event ? ` (${ref(u.event)})` : ''}`);
  }
  out.line('\nClock rollbacks');
  if (s.clockRollbacks.length === 0) out.line('  (none)');
  for (const r of s.clockRollbacks)
    out.line(`  ${r.deviceId} at ${iso(r.at)}: ${r.behindMs} ms behind (${ref(r.event)})`);
}
