import { ChangePlanRequest, CreateAccountRequest, MintDeviceTokenRequest } from '@satchel/protocol/schemas';
import { pathId, queryInt } from './admin-params.js';
import { type AdminRoutes, operatorOf } from './admin-routes.js';
import { readJson } from './request.js';

/** Accounts (list, search, create, plan) and their devices (list, deactivate). */
export const accountRoutes: AdminRoutes = (router, { admin, tokens }) => {
  router.get('/accounts', async (c) => {
    const q = c.req.query('q');
    const after = c.req.query('after');
    const limit = queryInt(c, 'limit');
    return c.json(
      await admin.accounts({
        ...(q ? { query: q } : {}),
        ...(after ? { after } : {}),
        ...(limit === undefined ? {} : { limit }),
      }),
    );
  });
  router.post('/accounts', async (c) => {
    const body = await readJson(c, CreateAccountRequest);
    const { created } = await admin.createAccount(body.accountId, body.name, body.plan);
    return c.json({ accountId: body.accountId, created }, created ? 201 : 200);
  });
  router.get('/accounts/:accountId', async (c) => c.json(await admin.account(pathId(c, 'accountId'))));
  router.put('/accounts/:accountId/plan', async (c) => {
    const accountId = pathId(c, 'accountId');
    const body = await readJson(c, ChangePlanRequest);
    return c.json(await admin.changePlan(accountId, body.plan));
  });
  router.get('/accounts/:accountId/devices', async (c) =>
    c.json({ devices: await admin.devices(pathId(c, 'accountId')) }),
  );
  // A device token of the device's current credential generation (admin): 404 for an unknown device,
  // 403 DEVICE_DEACTIVATED for a deactivated one. Body: { ttlSec? }.
  router.post('/accounts/:accountId/devices/:deviceId/token', async (c) => {
    const accountId = pathId(c, 'accountId');
    const deviceId = pathId(c, 'deviceId');
    const { ttlSec } = await readJson(c, MintDeviceTokenRequest);
    const generation = await admin.deviceGeneration(accountId, deviceId);
    const { token, expiresAt } = await tokens.mint(
      { kind: 'device', accountId, deviceId, generation },
      Date.now(),
      ttlSec,
    );
    c.get('log').info(
      { accountId, deviceId, generation, by: operatorOf(c).operatorId },
      'device token minted',
    );
    return c.json({ token, accountId, deviceId, generation, expiresAt }, 201);
  });
  router.post('/accounts/:accountId/devices/:deviceId/deactivate', async (c) =>
    c.json({ devices: await admin.deactivateDevice(pathId(c, 'accountId'), pathId(c, 'deviceId')) }),
  );
};
