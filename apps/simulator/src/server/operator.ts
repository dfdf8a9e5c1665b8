import type { AccountState, Plan } from '@satchel/core';
import type { LicenseSnapshot } from '@satchel/protocol';
import type { Title } from '@satchel/server';
import { type AccountAudit, HARNESS_SECRET_HEADER, VIRTUAL_TIME_HEADER } from './harness.js';

/** The operator's side of the server: what a simulation sets up, changes and reads back. */
export class Operator {
  constructor(
    private readonly baseUrl: () => string,
    private readonly secret: string,
  ) {}

  async #call<T>(method: 'GET' | 'POST', path: string, at: number, body?: unknown): Promise<T> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 20; attempt++) {
      try {
        const response = await fetch(new URL(`__harness/${path}`, this.baseUrl()), {
          method,
          headers: {
            [HARNESS_SECRET_HEADER]: this.secret,
            [VIRTUAL_TIME_HEADER]: String(at),
            ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          },
          ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        });
        const json = (await response.json()) as T & { error?: string };
        if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status} ${json.error ?? ''}`);
        return json;
      } catch (error) {
        lastError = error;
        if (error instanceof Error && error.message.startsWith(method)) throw error;
        await new Promise((resolve) => setTimeout(resolve, 100 * (attempt + 1)));
      }
    }
    throw lastError;
  }

  /** Checks that the server runs the harness (virtual clock and operator routes). */
  health(): Promise<{ ok: boolean; db: string }> {
    return this.#call('GET', 'health', 0);
  }

  putTitles(titles: readonly Title[], at: number): Promise<unknown> {
    return this.#call('POST', 'titles', at, { titles });
  }

  /** Opens the accounts; resolves with each account's enrolment token. */
  async openAccounts(
    accounts: ReadonlyArray<{ accountId: string; name: string; plan: Plan }>,
    at: number,
  ): Promise<Record<string, string>> {
    const { tokens } = await this.#call<{ tokens: Record<string, string> }>('POST', 'accounts', at, {
      accounts,
    });
    return tokens;
  }

  /** Withdraws a title from the catalogue: every licence for it expires at `availableUntil`. */
  async withdrawTitle(titleId: string, availableUntil: number, at: number): Promise<number> {
    const { revoked } = await this.#call<{ revoked: number }>('POST', 'withdraw', at, {
      titleId,
      availableUntil,
    });
    return revoked;
  }

  /** The accounts' current states (the server's fold, from its store). */
  async states(accountIds: readonly string[], at: number): Promise<AccountState[]> {
    const { states } = await this.#call<{ states: AccountState[] }>('POST', 'states', at, { accountIds });
    return states;
  }

  audit(accountId: string, at: number): Promise<AccountAudit> {
    return this.#call('GET', `accounts/${encodeURIComponent(accountId)}/audit`, at);
  }

  snapshot(accountId: string, deviceId: string, at: number): Promise<LicenseSnapshot> {
    return this.#call(
      'GET',
      `accounts/${encodeURIComponent(accountId)}/snapshot/${encodeURIComponent(deviceId)}`,
      at,
    );
  }
}
