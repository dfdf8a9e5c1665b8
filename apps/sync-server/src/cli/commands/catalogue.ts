import type {
  AdminTitlesResponse,
  PolicyVersionsResponse,
  PutTitleResponse,
  WithdrawResponse,
} from '@satchel/protocol';
import type { CliCommands } from '../context.js';
import { iso } from '../output.js';
import { instant, policyArgument } from '../parse.js';

/** A policy as `key=value` pairs, as `set-policy` takes them; `availableUntil` as an ISO-8601 UTC instant. */
const policyText = (p: Record<string, unknown>) =>
  Object.entries(p)
    .map(
      ([k, v]) =>
        `${k}=${v === null ? 'none' : k === 'availableUntil' && typeof v === 'number' ? iso(v) : String(v)}`,
    )
    .join(' ');

/** The catalogue: titles, versioned policies, withdrawal. */
export const catalogueCommands: CliCommands = (program, ctx) => {
  program
    .command('titles')
    .description('the catalogue: every title, its policy and policy version')
    .action(async (_opts, command) =>
      ctx.run(command, async (api, out) => {
        const r: AdminTitlesResponse = await api.request('GET', '/v1/admin/catalogue');
        out.result(r, () =>
          out.table([
            ['title', 'name', 'studio', 'version', 'updated', 'policy'],
            ...r.titles.map((t) => [
              t.titleId,
              t.name,
              t.studio ?? '-',
              String(t.version),
              iso(t.updatedAt),
              policyText(t.policy),
            ]),
          ]),
        );
      }),
    );
  program
    .command('title-versions')
    .description("every version of a title's policy")
    .argument('<titleId>')
    .action(async (titleId: string, _opts, command) =>
      ctx.run(command, async (api, out) => {
        const r: PolicyVersionsResponse = await api.request(
          'GET',
          `/v1/admin/catalogue/${encodeURIComponent(titleId)}/versions`,
        );
        out.result(r, () =>
          out.table([
            ['version', 'written', 'by', 'name', 'policy'],
            ...r.versions.map((v) => [
              String(v.version),
              iso(v.recordedAt),
              v.changedBy ?? '-',
              v.name,
              policyText(v.policy),
            ]),
          ]),
        );
      }),
    );
  program
    .command('put-title')
    .description(
      'create a title, or write its name and policy as a new version (policy fields key=value; others keep their value, or the defaults)',
    )
    .argument('<titleId>')
    .requiredOption('--name <name>', "the title's name")
    .option('--studio <studio>', 'the studio that owns the title, for its accounting (kept when omitted)')
    .argument(
      '[policy...]',
      'e.g. playbackDurationSec=21600 maxDownloadsPerYear=3 availableUntil=none',
      policyArgument,
    )
    .action(
      async (
        titleId: string,
        policy: Record<string, number | null> | undefined,
        opts: { name: string; studio?: string },
        command,
      ) =>
        ctx.run(command, async (api, out) => {
          const r: PutTitleResponse = await api.request(
            'PUT',
            `/v1/admin/catalogue/${encodeURIComponent(titleId)}`,
            {
              name: opts.name,
              // commander hands an optional variadic argument given no value over as []
              policy: policy === undefined || Array.isArray(policy) ? {} : policy,
              ...(opts.studio === undefined ? {} : { studio: opts.studio }),
            },
          );
          out.result(r, () =>
            out.line(
              `${r.created ? 'created' : 'updated'} ${titleId}: version ${r.title.version}, studio ${r.title.studio ?? '-'}, ${policyText(r.title.policy)}`,
            ),
          );
        }),
    );
  program
    .command('set-policy')
    .description(
      "change some of a title's policy fields (a new version; licences already issued keep theirs)",
    )
    .argument('<titleId>')
    .argument('<policy...>', 'key=value pairs, e.g. playbackDurationSec=21600', policyArgument)
    .action(async (titleId: string, policy: Record<string, number | null>, _opts, command) =>
      ctx.run(command, async (api, out) => {
        const r: PutTitleResponse = await api.request(
          'PATCH',
          `/v1/admin/catalogue/${encodeURIComponent(titleId)}`,
          {
            policy,
          },
        );
        out.result(r, () =>
          out.line(`${titleId}: version ${r.title.version}, ${policyText(r.title.policy)}`),
        );
      }),
    );
  program
    .command('withdraw')
    .description('withdraw a title from the catalogue now or at an instant')
    .argument('<titleId>')
    .option('--at <instant>', 'ISO-8601 or epoch ms (default now)', instant)
    .action(async (titleId: string, opts: { at?: number }, command) =>
      ctx.run(command, async (api, out) => {
        const r: WithdrawResponse = await api.request(
          'POST',
          `/v1/admin/catalogue/${encodeURIComponent(titleId)}/withdraw`,
          {
            ...(opts.at === undefined ? {} : { at: opts.at }),
          },
        );
        out.result(r, () =>
          out.line(
            `${titleId} leaves the catalogue at ${iso(r.availableUntil)}: ${r.accounts} accounts recorded it, ${r.revoked} licences revoked`,
          ),
        );
      }),
    );
};
