import { accountPage } from './account.js';
import { accountsPage } from './accounts.js';
import { cataloguePage } from './catalogue.js';
import { operatorsPage } from './operators.js';
import { reportsPage } from './reports.js';
import type { Page } from './types.js';
import { whatIfAccountPage, whatIfPage } from './what-if.js';

/** Every page of the console, matched in order. Add a file, then list it here. */
export const PAGES: readonly Page[] = [
  accountsPage,
  accountPage,
  cataloguePage,
  reportsPage,
  whatIfPage,
  whatIfAccountPage,
  operatorsPage,
];
