import { hostname } from 'node:os';
import { DEVELOPMENT_TOKEN_SECRET, Tokens } from '@satchel/server';
import { type Command, Option } from 'commander';
import { loadConfig } from '../../config.js';
import type { CliCommands } from '../context.js';
import { iso, type Output } from '../output.js';
import { integer } from '../parse.js';

/**
 * Tokens signed in this process from the configuration's secret. Says on stderr where the token was
 * minted and which servers take it, as the commands that connect say where they go.
 */
function localTokens(command: Command, out: Output): Tokens {
  const config = loadConfig(process.env, { defaultEnv: 'development' });
  const server = (command.optsWithGlobals() as { server?: string }).server ?? process.env.SATCHEL_SERVER;
  out.note(
    `satchel: minted here (no server asked${server ? `, not ${server}` : ''}), signed with ${
      config.tokenSecret === DEVELOPMENT_TOKEN_SECRET
        ? 'the public development secret (no SATCHEL_TOKEN_SECRET): a development server on it takes it, a production server never does'
        : 'SATCHEL_TOKEN_SECRET: a server takes it if it runs with the same secret'
    }`,
  );
  return new Tokens(config.tokenSecret);
}

/** `token`: operator, account and device tokens. */
export const tokenCommands: CliCommands = (program, ctx) => {
  const token = program
    .command('token')
    .description('mint a token (from SATCHEL_TOKEN_SECRET, or by an admin over the API with --remote)');
  token
    .command('operator')
    .description('an operator token: role support (reads) or admin (also changes)')
    .argument('[operatorId]', 'who the operator is', `operator@${hostname()}`)
    .addOption(
      new Option('--role <role>', 'support or admin').choices(['support', 'admin']).default('support'),
    )
    .option('--ttl <seconds>', 'lifetime (default 12 h)', integer)
    .option('--remote', 'ask the server (needs an admin token in SATCHEL_OPERATOR_TOKEN)')
    .action(
      async (
        operatorId: string,
        opts: { role: 'support' | 'admin'; ttl?: number; remote?: boolean },
        command,
      ) => {
        if (opts.remote) {
          await ctx.run(command, async (api, out) => {
            const minted = await api.request<{ token: string; expiresAt: number }>(
              'POST',
              '/v1/admin/tokens',
              {
                operatorId,
                role: opts.role,
                ...(opts.ttl === undefined ? {} : { ttlSec: opts.ttl }),
              },
            );
            out.result(minted, () => out.line(minted.token));
            out.note(`${opts.role} operator ${operatorId}, expires ${iso(minted.expiresAt)}`);
          });
          return;
        }
        const out = ctx.output(command);
        const t = await localTokens(command, out).mint(
          { kind: 'operator', operatorId, role: opts.role },
          Date.now(),
          opts.ttl,
        );
        out.result({ token: t.token, operatorId, role: opts.role, expiresAt: t.expiresAt }, () =>
          out.line(t.token),
        );
        out.note(`${opts.role} operator ${operatorId}, expires ${iso(t.expiresAt)}`);
      },
    );
  token
    .command('account')
    .description("an account's enrolment token (registers devices)")
    .argument('<accountId>')
    .option('--ttl <seconds>', 'lifetime (default 30 d)', integer)
    .action(async (accountId: string, opts: { ttl?: number }, command) => {
      const out = ctx.output(command);
      const t = await localTokens(command, out).mint({ kind: 'account', accountId }, Date.now(), opts.ttl);
      out.result({ token: t.token, accountId, expiresAt: t.expiresAt }, () => out.line(t.token));
      out.note(`account ${accountId}, expires ${iso(t.expiresAt)}`);
    });
  token
    .command('device')
    .description(
      "a device token of the device's current credential (through the admin API: the server, or the database here); refused for a deactivated device",
    )
    .argument('<accountId>')
    .argument('<deviceId>')
    .option('--ttl <seconds>', 'lifetime (default 90 d)', integer)
    .action(async (accountId: string, deviceId: string, opts: { ttl?: number }, command) =>
      ctx.run(command, async (api, out) => {
        const t = await api.request<{ token: string; generation: number; expiresAt: number }>(
          'POST',
          `/v1/admin/accounts/${encodeURIComponent(accountId)}/devices/${encodeURIComponent(deviceId)}/token`,
          opts.ttl === undefined ? {} : { ttlSec: opts.ttl },
        );
        out.result(
          { token: t.token, accountId, deviceId, generation: t.generation, expiresAt: t.expiresAt },
          () => out.line(t.token),
        );
        out.note(
          `device ${deviceId} of account ${accountId} (credential generation ${t.generation}), expires ${iso(t.expiresAt)}`,
        );
      }),
    );
  program
    .command('whoami')
    .description('the operator the token speaks for')
    .action(async (_opts, command) =>
      ctx.run(command, async (api, out) => {
        const me = await api.request<{ operatorId: string; role: string }>('GET', '/v1/admin/whoami');
        out.result(me, () => out.line(`${me.operatorId} (${me.role})`));
      }),
    );
};
