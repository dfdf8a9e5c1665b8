import { describe, expect, it } from 'vitest';
import { DEV_ENROLMENT_PATH, withDevEnrolment } from './dev-enrolment.js';

const next = async () => new Response('not here', { status: 404 });
const enrolment = { accountId: 'demo', token: 'eyJ.token.x' };

describe('one-click enrolment on a development server', () => {
  it('hands the demo enrolment token to the page only when enabled', async () => {
    const dev = withDevEnrolment(next, enrolment, true);
    const res = await dev(new Request(`http://localhost${DEV_ENROLMENT_PATH}`));
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual(enrolment);
    expect(res.headers.get('cache-control')).toBe('no-store');
    const prod = withDevEnrolment(next, enrolment, false);
    expect((await prod(new Request(`http://localhost${DEV_ENROLMENT_PATH}`))).status).toBe(404);
  });

  it('leaves every other request to the API', async () => {
    const dev = withDevEnrolment(next, enrolment, true);
    expect((await dev(new Request('http://localhost/v1/catalogue'))).status).toBe(404);
    expect((await dev(new Request(`http://localhost${DEV_ENROLMENT_PATH}`, { method: 'POST' }))).status).toBe(
      404,
    );
  });
});
