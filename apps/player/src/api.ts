import { type DeviceView, PROTOCOL_VERSION, PROTOCOL_VERSION_HEADER } from '@satchel/protocol';
import {
  CatalogueResponse,
  type CatalogueTitle,
  DevicesResponse,
  HistoryResponse,
  parseErrorResponse,
} from '@satchel/protocol/schemas';

export type { CatalogueTitle };

/** A call the SDK does not make (catalogue, devices) failed; `message` is fit to show. */
export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status: number | null,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

async function call(
  fetcher: typeof fetch,
  url: string,
  token: string,
  init: RequestInit = {},
): Promise<unknown> {
  let response: Response;
  try {
    response = await fetcher(url, {
      ...init,
      headers: { authorization: `Bearer ${token}`, [PROTOCOL_VERSION_HEADER]: String(PROTOCOL_VERSION) },
    });
  } catch {
    throw new ApiError('NETWORK', 'The server cannot be reached.', null);
  }
  const json: unknown = await response.json().catch(() => undefined);
  if (!response.ok) {
    const wire = parseErrorResponse(json);
    throw new ApiError(wire?.code ?? 'HTTP', wire?.message ?? `HTTP ${response.status}`, response.status);
  }
  return json;
}

/** `GET /v1/catalogue`: the titles and their policies. */
export async function fetchCatalogue(
  fetcher: typeof fetch,
  baseUrl: string,
  token: string,
): Promise<CatalogueTitle[]> {
  const parsed = CatalogueResponse.safeParse(
    await call(fetcher, new URL('v1/catalogue', baseUrl).href, token),
  );
  if (!parsed.success)
    throw new ApiError('INVALID_RESPONSE', 'The catalogue does not have the expected shape.', 200);
  return parsed.data.titles;
}

/** `DELETE /v1/devices/{deviceId}` with the account's token: deactivates a device and revokes its licences. */
export async function deactivateDevice(
  fetcher: typeof fetch,
  baseUrl: string,
  token: string,
  deviceId: string,
): Promise<DeviceView[]> {
  const json = await call(
    fetcher,
    new URL(`v1/devices/${encodeURIComponent(deviceId)}`, baseUrl).href,
    token,
    {
      method: 'DELETE',
    },
  );
  const parsed = DevicesResponse.safeParse(json);
  if (!parsed.success)
    throw new ApiError('INVALID_RESPONSE', 'The device list does not have the expected shape.', 200);
  return parsed.data.devices;
}

/** `GET /v1/licenses/{licenseId}/history` with the device's token: the licence's events, for its timeline. */
export async function fetchLicenseHistory(
  fetcher: typeof fetch,
  baseUrl: string,
  token: string,
  licenseId: string,
): Promise<HistoryResponse['events']> {
  const json = await call(
    fetcher,
    new URL(`v1/licenses/${encodeURIComponent(licenseId)}/history`, baseUrl).href,
    token,
  );
  const parsed = HistoryResponse.safeParse(json);
  if (!parsed.success)
    throw new ApiError('INVALID_RESPONSE', 'The history does not have the expected shape.', 200);
  return parsed.data.events;
}

/**
 * `GET /dev/enrolment`: the demo account's enrolment token, when the server is a development server that
 * hands it out; null elsewhere (or unreachable). Lets the page at `/` enrol in one click.
 */
export async function fetchDevEnrolment(baseUrl: string): Promise<string | null> {
  try {
    const res = await globalThis.fetch(new URL('dev/enrolment', baseUrl).href);
    if (!res.ok) return null;
    const body = (await res.json()) as { token?: unknown };
    return typeof body.token === 'string' ? body.token : null;
  } catch {
    return null;
  }
}
