import { MintOperatorTokenRequest } from '@satchel/protocol/schemas';
import type { AdminRoutes } from './admin-routes.js';
import { operatorOf } from './admin-routes.js';
import { readJson } from './request.js';

/** Who am I, and minting operator tokens (admin). */
export const operatorRoutes: AdminRoutes = (router, { tokens }) => {
  router.get('/whoami', (c) => {
    const { operatorId, role } = operatorOf(c);
    return c.json({ operatorId, role });
  });
  router.post('/tokens', async (c) => {
    const body = await readJson(c, MintOperatorTokenRequest);
    const { token, expiresAt } = await tokens.mint(
      { kind: 'operator', operatorId: body.operatorId, role: body.role },
      Date.now(),
      body.ttlSec,
    );
    c.get('log').info(
      { operatorId: body.operatorId, role: body.role, by: operatorOf(c).operatorId },
      'operator token minted',
    );
    return c.json({ token, operatorId: body.operatorId, role: body.role, expiresAt }, 201);
  });
};
