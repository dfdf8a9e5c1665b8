import { protocolError } from '@satchel/protocol';
import { Hono } from 'hono';
import type { AdminService } from '../admin.js';
import type { Tokens } from '../auth.js';
import { type OperatorPrincipal, roleAllows } from '../operators.js';
import type { ProjectionRunner } from '../projections/runner.js';
import { accountRoutes } from './admin-accounts.js';
import { catalogueRoutes } from './admin-catalogue.js';
import { historyRoutes } from './admin-history.js';
import { operatorRoutes } from './admin-operators.js';
import { projectionRoutes } from './admin-projections.js';
import type { Env } from './app.js';
import { fail } from './request.js';

/** What the admin routes use. */
export interface AdminDeps {
  readonly admin: AdminService;
  readonly tokens: Tokens;
  /** The projection runner (reports, lag, rebuilds, what-if), when the server has one. */
  readonly projections?: ProjectionRunner | undefined;
}

/** The router every admin route file adds its routes to (mounted at `/v1/admin`). */
export type AdminRouter = Hono<Env>;

/** One file of admin routes: adds its routes to the router. Add a file, then list it in {@link ADMIN_ROUTES}. */
export type AdminRoutes = (router: AdminRouter, deps: AdminDeps) => void;

/** Every admin route file, in the order their routes are matched. */
export const ADMIN_ROUTES: readonly AdminRoutes[] = [
  operatorRoutes,
  catalogueRoutes,
  accountRoutes,
  historyRoutes,
  projectionRoutes,
];

/** The operator of the request (the admin middleware has checked the token and the role). */
export const operatorOf = (c: { get(key: 'principal'): Env['Variables']['principal'] }): OperatorPrincipal =>
  c.get('principal') as OperatorPrincipal;

/**
 * `/v1/admin`: operator tokens only (device and account tokens get 403 `FORBIDDEN`). The role follows
 * the method: `support` may read (GET, HEAD), only `admin` may change (every other method).
 */
export function adminRoutes(deps: AdminDeps, routes: readonly AdminRoutes[] = ADMIN_ROUTES): Hono<Env> {
  const router = new Hono<Env>();
  router.use('*', async (c, next) => {
    const p = c.get('principal');
    if (p.kind !== 'operator') fail(protocolError('FORBIDDEN', 'The admin API needs an operator token'));
    const needed = c.req.method === 'GET' || c.req.method === 'HEAD' ? 'support' : 'admin';
    if (p.kind === 'operator' && !roleAllows(p.role, needed)) {
      fail(protocolError('FORBIDDEN', `This needs the ${needed} role; the token has ${p.role}`));
    }
    await next();
  });
  for (const add of routes) add(router, deps);
  return router;
}
