import type { RuleChange } from '@satchel/core';
import { protocolError } from '@satchel/protocol';
import { RuleChangeRequest, WhatIfRequest } from '@satchel/protocol/schemas';
import { STUDIO_ACCOUNTING, studioReport, studioReportCsv } from '../projections/studio-accounting.js';
import { checkWhatIfNames, whatIf, whatIfAccount } from '../projections/what-if.js';
import { pathId } from './admin-params.js';
import type { AdminRoutes } from './admin-routes.js';
import { HttpError, invalid, readJson } from './request.js';

/** The media type of a streamed what-if: one JSON value a line (docs/decisions/0013-what-if-progress.md). */
export const NDJSON = 'application/x-ndjson';

class Cancelled extends Error {}

/**
 * Runs `work` and streams its progress as NDJSON: `{"type":"progress","done","total"}` lines while it runs,
 * then one `{"type":"result","result"}` line, or one `{"type":"error","error"}` line (a wire error) when it
 * fails after the 200 has been sent. When the client goes away, the next progress report ends the work.
 */
function ndjsonProgress<T>(
  signal: AbortSignal,
  work: (progress: (done: number, total: number) => void) => Promise<T>,
): Response {
  const encoder = new TextEncoder();
  let cancelled = false;
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      const send = (value: unknown) => {
        if (!cancelled) controller.enqueue(encoder.encode(`${JSON.stringify(value)}\n`));
      };
      void (async () => {
        try {
          const result = await work((done, total) => {
            if (cancelled || signal.aborted) throw new Cancelled();
            send({ type: 'progress', done, total });
          });
          send({ type: 'result', result });
        } catch (e) {
          if (!(e instanceof Cancelled))
            send({
              type: 'error',
              error: e instanceof HttpError ? e.body : protocolError('INTERNAL', 'Internal error'),
            });
        } finally {
          if (!cancelled) controller.close();
        }
      })();
    },
    cancel() {
      cancelled = true;
    },
  });
  return new Response(body, {
    status: 200,
    headers: {
      'content-type': `${NDJSON}; charset=utf-8`,
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    },
  });
}

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
 * - `POST /what-if` (a rule change: totals and the accounts that differ; with `Accept: application/x-ndjson`
 *   the progress streamed, then the report); `POST /what-if/accounts/{id}`
 *   (one account's two timelines). What-if reads the store and writes nothing; it is a POST for its body,
 *   so it needs the admin role. A title, plan or account it names that does not exist is `404 NOT_FOUND`
 *   (answered before any stream starts).
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
    const change = changeOf(body);
    // Before the stream's 200: a title, plan or account that does not exist is a 404, not 0 accounts.
    await checkWhatIfNames(projections.db, change, body.accountIds);
    const options = {
      ...(body.accountIds ? { accountIds: body.accountIds } : {}),
      detailLimit: body.detailLimit ?? 200,
    };
    if ((c.req.header('accept') ?? '').includes(NDJSON)) {
      return ndjsonProgress(c.req.raw.signal, (onProgress) =>
        whatIf(projections.db, change, { ...options, onProgress }),
      );
    }
    return c.json(await whatIf(projections.db, change, options));
  });
  router.post('/what-if/accounts/:accountId', async (c) => {
    const accountId = pathId(c, 'accountId');
    const body = await readJson(c, RuleChangeRequest);
    if (!projections) return c.json({ error: 'no store' }, 503);
    const change = changeOf(body);
    await checkWhatIfNames(projections.db, change, [accountId]);
    return c.json(await whatIfAccount(projections.db, accountId, change));
  });
};
