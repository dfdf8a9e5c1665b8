import type { WhoAmIResponse } from '@satchel/protocol';

/** What a page gets: the operator, and a way to go elsewhere. */
export interface PageContext {
  readonly operator: WhoAmIResponse;
  /** True when the operator may change things (role admin). */
  readonly canChange: boolean;
  navigate(hash: string): void;
}

/** One page of the console: a hash route (`#/accounts/:accountId`) and what it renders. */
export interface Page {
  /** The route, with `:name` parameters. */
  readonly route: string;
  /** The label in the navigation, for pages that have one. */
  readonly nav?: string;
  render(ctx: PageContext, params: Readonly<Record<string, string>>): Promise<HTMLElement>;
}
