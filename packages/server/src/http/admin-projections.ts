import type { RuleChange } from '@satchel/core';
import { RuleChangeRequest, WhatIfRequest } from '@satchel/protocol/schemas';
import { STUDIO_ACCOUNTING, studioReport, studioReportCsv } from '../projections/studio-accounting.js';
import { whatIf, whatIfAccount } from '../projections/what-if.js';
import { pathId } from './admin-params.js';
import type { AdminRoutes } from './admin-routes.js';
import { invalid, readJson } from './request.js';

const MONTH = /^\d{4}-(0[1-9]|1[0-2])$/;

const changeOf = (body: RuleChangeRequest): RuleChange => {
  if (Object.keys(body.titles ?? {}).length === 0 && Object.keys(body.plans ?? {}).length === 0) {
    invalid('titles', 'name at least one title or plan to change');
  }
  return {
    ...(body.titles ? { titles: body.titles } : {}),
    ...(body.plans ? { plans: body.plans } : {}),
  } as RuleChange;
};

/**
 * Studio accounting, the projections' lag and rebuilds, and what-if replay.
 * - `GET /reports/studios?from=YYYY-MM&to=YYYY-MM[&studio=…][&format=csv]`
 * - `GET /projections` (lag per projection generation); `POST /projections/{name}/rebuild`
 * - `POST /what-if` (a rule change: totals and the accounts that differ); `POST /what-if/accounts/{id}`
 *   (one account's two timelines). What-if reads the store and writes nothing; it is a POST for its body,
 *   so it needs the admin role.
 */
export const projectionRoutes: AdminRoutes = (router, { admin, projections }) => {
  router.get('/reports/studios', async (c) => {
    if (!projections) return c.json({ rows: [] });
    const now = new Date(admin.now()).toISOString().slice(0, 7);
    const from = c.req.query('from') ?? `${now.slice(0, 4)}-01`;
    const to = c.req.query('to') ?? now;
    if (!MONTH.test(from)) invalid('from', 'expected a month, YYYY-MM');
    if (!MONTH.test(to)) invalid('to', 'expected a month, YYYY-MM');
    if (from > to) invalid('from', 'must not be after to');
    const studio = c.req.query('studio');
    const rows = await studioReport(projections.db, { from, to, ...(studio ? { studio } : {}) });
    if (c.req.query('format') === 'csv') {
      return c.body(studioReportCsv(rows), 200, { 'content-type': 'text/csv; charset=utf-8' });
    }
    return c.json({ from, to, rows, lag: await projections.lag() });
  });
  router.get('/projections', async (c) =>
    c.json({ projections: projections ? await projections.lag() : [] }),
  );
  router.post('/projections/:name/rebuild', async (c) => {
    const name = pathId(c, 'name');
    if (!projections || name !== STUDIO_ACCOUNTING) invalid('name', `no projection named ${name}`);
    const generation = await projections?.rebuild(name);
    return c.json({ projection: name, generation }, 202);
  });
  router.post('/what-if', async (c) => {
    const body = await readJson(c, WhatIfRequest);
    if (!projections) return c.json({ error: 'no store' }, 503);
    const report = await whatIf(projections.db, changeOf(body), {
      ...(body.accountIds ? { accountIds: body.accountIds } : {}),
      detailLimit: body.detailLimit ?? 200,
    });
    return c.json(report);
  });
  router.post('/what-if/accounts/:accountId', async (c) => {
    const accountId = pathId(c, 'accountId');
    const body = await readJson(c, RuleChangeRequest);
    if (!projections) return c.json({ error: 'no store' }, 503);
    return c.json(await whatIfAccount(projections.db, accountId, changeOf(body)));
  });
};
