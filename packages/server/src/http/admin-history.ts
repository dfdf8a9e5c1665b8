import { pathId, queryInstant, queryInt } from './admin-params.js';
import type { AdminRoutes } from './admin-routes.js';
import { invalid } from './request.js';

/** An account's history (filtered, paged) and its state at any instant with the reasons. */
export const historyRoutes: AdminRoutes = (router, { admin }) => {
  router.get('/accounts/:accountId/history', async (c) => {
    const accountId = pathId(c, 'accountId');
    const types = (c.req.query('type') ?? '')
      .split(',')
      .map((t) => t.trim())
      .filter(Boolean);
    const device = c.req.query('device');
    const license = c.req.query('license');
    const from = queryInstant(c, 'from');
    const to = queryInstant(c, 'to');
    const after = queryInt(c, 'after');
    const limit = queryInt(c, 'limit');
    const all = c.req.query('all');
    if (all !== undefined && all !== 'true' && all !== 'false') invalid('all', 'expected true or false');
    return c.json(
      await admin.history(accountId, {
        ...(types.length > 0 ? { types } : {}),
        ...(device ? { deviceId: device } : {}),
        ...(license ? { licenseId: license } : {}),
        ...(from === undefined ? {} : { from }),
        ...(to === undefined ? {} : { to }),
        ...(after === undefined ? {} : { after }),
        ...(limit === undefined ? {} : { limit }),
        all: all === 'true',
      }),
    );
  });
  router.get('/accounts/:accountId/state', async (c) => {
    const accountId = pathId(c, 'accountId');
    const at = queryInstant(c, 'at') ?? admin.now();
    const basis = c.req.query('basis') ?? 'occurred';
    if (basis !== 'occurred' && basis !== 'recorded') invalid('basis', 'expected occurred or recorded');
    return c.json(await admin.stateAt(accountId, at, basis as 'occurred' | 'recorded'));
  });
};
