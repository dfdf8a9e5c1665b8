import type {
  ProjectionLag,
  ProjectionsResponse,
  RebuildResponse,
  StudioMonthRow,
  StudioReportResponse,
  WhatIfAccountResponse,
  WhatIfResponse,
} from '@satchel/protocol';
import type { Command } from 'commander';
import { type Api, ApiError } from '../connection.js';
import type { CliCommands, CliContext } from '../context.js';
import { iso, type Output } from '../output.js';
import { integer, month, planArgument, policyArgument } from '../parse.js';
import { progress } from '../progress.js';

const HOUR_MS = 3_600_000;

/** A duration for people: hours with one decimal, or minutes below an hour. */
export const duration = (ms: number): string =>
  Math.abs(ms) >= HOUR_MS ? `${(ms / HOUR_MS).toFixed(1)} h` : `${Math.round(ms / 60_000)} min`;

const lagLine = (l: ProjectionLag): string =>
  `${l.projection} generation ${l.generation} (${l.status}): ${l.eventsBehind} events, ${l.secondsBehind} s behind; ${l.eventsProcessed} processed, position ${l.position}; ${l.leaseOwner ? `run by ${l.leaseOwner}` : 'no instance runs it now'}`;

/** In local mode nothing else keeps the projections: this process catches them up first. */
async function catchUpLocally(api: Api, out: Output): Promise<void> {
  if (!api.catchUpProjections) return;
  const n = await api.catchUpProjections();
  if (n > 0) out.note(`satchel: caught the projections up in this process (${n} events)`);
}

const sum = (r: Record<string, number>) => Object.values(r).reduce((a, n) => a + n, 0);

function printReport(out: Output, r: StudioReportResponse): void {
  out.line(`Studio accounting, ${r.from} to ${r.to} (UTC months)`);
  out.table([
    [
      'studio',
      'title',
      'month',
      'issued',
      'renewed',
      'released',
      'revoked',
      'expired',
      'refused',
      'accounts',
      'devices',
      'active at end',
    ],
    ...r.rows.map((row: StudioMonthRow) => [
      row.studio,
      row.titleId,
      row.month,
      String(row.issued),
      String(row.renewed),
      String(row.released),
      `${sum(row.revoked)}${
        sum(row.revoked) > 0
          ? ` (${Object.entries(row.revoked)
              .map(([k, n]) => `${k} ${n}`)
              .join(', ')})`
          : ''
      }`,
      String(row.expired),
      String(sum(row.refused)),
      String(row.accounts),
      String(row.devices),
      String(row.activeAtMonthEnd),
    ]),
  ]);
  out.line('\nLag');
  for (const l of r.lag) out.line(`  ${lagLine(l)}`);
}

function printWhatIf(out: Output, r: WhatIfResponse): void {
  const t = r.totals;
  const byCode = (c: Record<string, number>) =>
    Object.keys(c).length === 0
      ? ''
      : ` (${Object.entries(c)
          .map(([k, n]) => `${k} ${n}`)
          .join(', ')})`;
  const instants = (k: string, v: unknown) => (k === 'availableUntil' && typeof v === 'number' ? iso(v) : v);
  out.line(`What if: ${JSON.stringify(r.change, instants)}`);
  out.line(`  accounts scanned ${t.accountsScanned}, affected ${t.accountsAffected}`);
  out.line(`  grants that would be refused: ${t.refusedGrants.total}${byCode(t.refusedGrants.byCode)}`);
  out.line(`  renewals that would be refused: ${t.refusedRenewals.total}${byCode(t.refusedRenewals.byCode)}`);
  out.line(`  refused requests that would be granted: ${t.newGrants}`);
  out.line(
    `  licences expiring earlier: ${t.expiresEarlier.licences}${t.expiresEarlier.licences ? ` (${duration(t.expiresEarlier.totalMs)} in all, at most ${duration(t.expiresEarlier.maxMs)})` : ''}`,
  );
  out.line(
    `  licences expiring later: ${t.expiresLater.licences}${t.expiresLater.licences ? ` (${duration(t.expiresLater.totalMs)} in all, at most ${duration(t.expiresLater.maxMs)})` : ''}`,
  );
  out.line(`\nAccounts that differ${r.truncated ? ` (the first ${r.accounts.length})` : ''}`);
  out.table([
    ['account', 'grants refused', 'renewals refused', 'newly granted', 'earlier', 'later', 'expiry shift'],
    ...r.accounts.map((a) => [
      a.accountId,
      String(a.refusedGrants),
      String(a.refusedRenewals),
      String(a.newGrants),
      String(a.expiresEarlier),
      String(a.expiresLater),
      duration(a.expiryDeltaMs),
    ]),
  ]);
}

type Entry = NonNullable<WhatIfAccountResponse['actual']>[number];
const entryText = (e: Entry) =>
  `${iso(e.at).slice(0, 19)}Z ${e.type}${e.titleId ? ` ${e.titleId}` : ''}${e.licenseId ? ` ${e.licenseId.slice(0, 8)}` : ''}${e.detail ? ` ${e.detail}` : ''}`;
const same = (a: Entry, b: Entry) =>
  a.at === b.at && a.type === b.type && a.licenseId === b.licenseId && a.detail === b.detail;

/** The two timelines in two columns, aligned where they agree; a row where they differ is marked `*`. */
export function sideBySide(actual: readonly Entry[], proposed: readonly Entry[]): string[][] {
  const rows: string[][] = [['', 'actual', 'under the proposed rules']];
  let i = 0;
  let j = 0;
  while (i < actual.length || j < proposed.length) {
    const a = actual[i];
    const p = proposed[j];
    if (a && p && same(a, p)) {
      rows.push([' ', entryText(a), entryText(p)]);
      i++;
      j++;
    } else if (a && (!p || a.at <= p.at)) {
      rows.push(['*', entryText(a), '']);
      i++;
    } else if (p) {
      rows.push(['*', '', entryText(p)]);
      j++;
    }
  }
  return rows;
}

function printAccount(out: Output, r: WhatIfAccountResponse): void {
  out.line(`What if, account ${r.accountId}`);
  for (const g of r.refusedGrants)
    out.line(`  grant of ${g.titleId} at ${iso(g.at)} (licence ${g.licenseId}) would be refused: ${g.code}`);
  for (const g of r.refusedRenewals)
    out.line(
      `  renewal ${g.renewal} of ${g.licenseId} (${g.titleId}) at ${iso(g.at)} would be refused: ${g.code}`,
    );
  for (const g of r.newGrants)
    out.line(
      `  ${g.request} of ${g.titleId} at ${iso(g.at)}, refused with ${g.wasRefusedWith}, would be granted`,
    );
  for (const c of r.expiryChanges)
    out.line(
      `  licence ${c.licenseId} (${c.titleId}) would expire ${c.deltaMs < 0 ? 'earlier' : 'later'} by ${duration(Math.abs(c.deltaMs))}: ${iso(c.actualExpiresAt)} → ${iso(c.proposedExpiresAt)}`,
    );
  const differs =
    r.refusedGrants.length + r.refusedRenewals.length + r.newGrants.length + r.expiryChanges.length;
  if (differs === 0) out.line('  nothing would differ');
  out.line('');
  out.table(sideBySide(r.actual ?? [], r.proposed ?? []));
}

type WhatIfOptions = { account?: string; accounts?: string; limit?: number };

async function runWhatIf(
  ctx: CliContext,
  command: Command,
  change: { titles?: Record<string, unknown>; plans?: Record<string, unknown> },
  opts: WhatIfOptions,
): Promise<void> {
  return ctx.run(command, async (api, out) => {
    if (opts.account) {
      const r: WhatIfAccountResponse = await api.request(
        'POST',
        `/v1/admin/what-if/accounts/${encodeURIComponent(opts.account)}`,
        change,
      );
      out.result(r, () => printAccount(out, r));
      return;
    }
    const body = {
      ...change,
      ...(opts.accounts ? { accountIds: opts.accounts.split(',').filter(Boolean) } : {}),
      ...(opts.limit === undefined ? {} : { detailLimit: opts.limit }),
    };
    const bar = progress('accounts');
    let report: WhatIfResponse | null = null;
    try {
      await api.stream('POST', '/v1/admin/what-if', body, (line) => {
        const l = line as
          | { type: 'progress'; done: number; total: number }
          | { type: 'result'; result: WhatIfResponse }
          | { type: 'error'; error: { code: string; message: string } };
        if (l.type === 'progress') bar.update(l.done, l.total);
        else if (l.type === 'result') report = l.result;
        else if (l.type === 'error') throw new ApiError(500, l.error.code, l.error.message);
      });
    } finally {
      bar.stop();
    }
    const r = report as WhatIfResponse | null;
    if (r === null) throw new Error('the server ended the what-if without a report');
    out.result(r, () => printWhatIf(out, r));
  });
}

const whatIfOptions = (c: Command) =>
  c
    .option('--account <accountId>', 'one account: what would differ, and its two timelines side by side')
    .option(
      '--accounts <ids>',
      'only these accounts, comma-separated (default: every account the change could touch)',
    )
    .option('--limit <n>', 'most accounts listed (default 200; the totals count every one)', integer);

/** Studio accounting, the projections' lag and rebuilds, and what-if replay. */
export const projectionCommands: CliCommands = (program, ctx) => {
  program
    .command('report')
    .description('studio accounting per studio, title and UTC month, from the projection (and its lag)')
    .option('--from <month>', 'first month, YYYY-MM (default January of this year)', month)
    .option('--to <month>', 'last month, YYYY-MM (default this month)', month)
    .option('--studio <studio>', 'one studio')
    .option('--csv', 'print CSV on stdout (the lag goes to stderr)')
    .action(async (opts: { from?: string; to?: string; studio?: string; csv?: boolean }, command) =>
      ctx.run(command, async (api, out) => {
        await catchUpLocally(api, out);
        const params = new URLSearchParams();
        if (opts.from) params.set('from', opts.from);
        if (opts.to) params.set('to', opts.to);
        if (opts.studio) params.set('studio', opts.studio);
        if (opts.csv) {
          params.set('format', 'csv');
          const csv = await api.text('GET', `/v1/admin/reports/studios?${params}`);
          process.stdout.write(csv.endsWith('\n') || csv === '' ? csv : `${csv}\n`);
          const { projections }: ProjectionsResponse = await api.request('GET', '/v1/admin/projections');
          for (const l of projections) out.note(`lag: ${lagLine(l)}`);
          return;
        }
        const r: StudioReportResponse = await api.request('GET', `/v1/admin/reports/studios?${params}`);
        out.result(r, () => printReport(out, r));
      }),
    );
  program
    .command('projections')
    .description('each projection generation: how far behind the feed it is, and which instance runs it')
    .action(async (_opts: unknown, command) =>
      ctx.run(command, async (api, out) => {
        const r: ProjectionsResponse = await api.request('GET', '/v1/admin/projections');
        out.result(r, () => {
          for (const l of r.projections) out.line(lagLine(l));
        });
      }),
    );
  program
    .command('rebuild')
    .description('rebuild a projection from position 0 beside the live one (a running server finishes it)')
    .argument('<projection>', 'e.g. studio-accounting')
    .action(async (name: string, _opts: unknown, command) =>
      ctx.run(command, async (api, out) => {
        const r: RebuildResponse = await api.request(
          'POST',
          `/v1/admin/projections/${encodeURIComponent(name)}/rebuild`,
        );
        out.result(r, () =>
          out.line(
            `${r.projection}: generation ${r.generation} is building; the live one serves until it has caught up`,
          ),
        );
      }),
    );

  const whatIf = program
    .command('what-if')
    .description(
      're-decide history under a proposed rule change and report what would differ (writes nothing)',
    );
  whatIfOptions(
    whatIf
      .command('title')
      .description("a title's policy changed, e.g. what-if title night-train playbackDurationSec=86400")
      .argument('<titleId>')
      .argument('<policy...>', 'policy fields as key=value', policyArgument),
  ).action(async (titleId: string, policy: Record<string, number | null>, opts: WhatIfOptions, command) =>
    runWhatIf(ctx, command, { titles: { [titleId]: policy } }, opts),
  );
  whatIfOptions(
    whatIf
      .command('plan')
      .description("a plan's limits changed, e.g. what-if plan standard maxDownloadDevices=1")
      .argument('<planId>')
      .argument('<limits...>', 'plan limits as key=value', planArgument),
  ).action(async (planId: string, limits: Record<string, number | null>, opts: WhatIfOptions, command) =>
    runWhatIf(ctx, command, { plans: { [planId]: limits } }, opts),
  );
};
