type Fetch = (request: Request) => Response | Promise<Response>;

/** Where the demo player asks for the demo account's enrolment token on a development server. */
export const DEV_ENROLMENT_PATH = '/dev/enrolment';

/**
 * On a development server only (`enabled`: not `NODE_ENV=production` and the development token secret),
 * `GET /dev/enrolment` answers `{ accountId, token }`: the demo account's enrolment token, so that the
 * player opened at `/` is one click from a working device. Everywhere else the path is left to `next`
 * (a 404): a production server never hands out a token to whoever asks.
 */
export function withDevEnrolment(
  next: Fetch,
  enrolment: { accountId: string; token: string },
  enabled: boolean,
): Fetch {
  if (!enabled) return next;
  return (request) => {
    const { pathname } = new URL(request.url);
    if (pathname !== DEV_ENROLMENT_PATH || request.method !== 'GET') return next(request);
    return Response.json(enrolment, { headers: { 'cache-control': 'no-store' } });
  };
}
