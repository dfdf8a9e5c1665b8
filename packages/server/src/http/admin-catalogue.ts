import { PutTitleRequest, UpdateTitleRequest, WithdrawRequest } from '@satchel/protocol/schemas';
import { pathId } from './admin-params.js';
import type { AdminRoutes } from './admin-routes.js';
import { operatorOf } from './admin-routes.js';
import { readJson } from './request.js';

/** The catalogue: titles, versioned policies, withdrawal. */
export const catalogueRoutes: AdminRoutes = (router, { admin }) => {
  router.get('/catalogue', async (c) => c.json({ titles: await admin.titles() }));
  router.put('/catalogue/:titleId', async (c) => {
    const titleId = pathId(c, 'titleId');
    const body = await readJson(c, PutTitleRequest);
    const result = await admin.putTitle(
      {
        titleId,
        name: body.name,
        ...(body.policy ? { policy: body.policy } : {}),
        ...(body.studio === undefined ? {} : { studio: body.studio }),
      },
      operatorOf(c).operatorId,
    );
    return c.json(result, result.created ? 201 : 200);
  });
  router.patch('/catalogue/:titleId', async (c) => {
    const titleId = pathId(c, 'titleId');
    const body = await readJson(c, UpdateTitleRequest);
    const title = await admin.updateTitle(
      titleId,
      {
        ...(body.name === undefined ? {} : { name: body.name }),
        ...(body.policy ? { policy: body.policy } : {}),
        ...(body.studio === undefined ? {} : { studio: body.studio }),
      },
      operatorOf(c).operatorId,
    );
    return c.json({ title, created: false });
  });
  router.get('/catalogue/:titleId/versions', async (c) =>
    c.json({ versions: await admin.titleVersions(pathId(c, 'titleId')) }),
  );
  router.post('/catalogue/:titleId/withdraw', async (c) => {
    const titleId = pathId(c, 'titleId');
    const body = await readJson(c, WithdrawRequest);
    const at = body.at ?? admin.now();
    const { accounts, revoked } = await admin.withdraw(titleId, at, operatorOf(c).operatorId);
    return c.json({ titleId, availableUntil: at, accounts, revoked });
  });
};
