import { describe, expect, it } from 'vitest';
import { openApiDocument } from './entries/openapi.js';
import { PROTOCOL_ERROR_CODES } from './index.js';

const EXPECTED_OPERATIONS = [
  ['post', '/v1/sync'],
  ['post', '/v1/licenses'],
  ['post', '/v1/licenses/{licenseId}/renew'],
  ['post', '/v1/licenses/{licenseId}/release'],
  ['get', '/v1/licenses'],
  ['get', '/v1/catalogue'],
  ['post', '/v1/devices'],
  ['get', '/v1/devices'],
  ['delete', '/v1/devices/{deviceId}'],
  ['get', '/healthz'],
  ['get', '/readyz'],
  ['get', '/metrics'],
  ['get', '/v1/admin/whoami'],
  ['post', '/v1/admin/tokens'],
  ['get', '/v1/admin/catalogue'],
  ['put', '/v1/admin/catalogue/{titleId}'],
  ['patch', '/v1/admin/catalogue/{titleId}'],
  ['get', '/v1/admin/catalogue/{titleId}/versions'],
  ['post', '/v1/admin/catalogue/{titleId}/withdraw'],
  ['get', '/v1/admin/accounts'],
  ['post', '/v1/admin/accounts'],
  ['get', '/v1/admin/accounts/{accountId}'],
  ['put', '/v1/admin/accounts/{accountId}/plan'],
  ['get', '/v1/admin/accounts/{accountId}/devices'],
  ['post', '/v1/admin/accounts/{accountId}/devices/{deviceId}/token'],
  ['post', '/v1/admin/accounts/{accountId}/devices/{deviceId}/deactivate'],
  ['get', '/v1/admin/accounts/{accountId}/history'],
  ['get', '/v1/admin/accounts/{accountId}/state'],
  ['get', '/v1/admin/reports/studios'],
  ['get', '/v1/admin/projections'],
  ['post', '/v1/admin/projections/{name}/rebuild'],
  ['post', '/v1/admin/what-if'],
  ['post', '/v1/admin/what-if/accounts/{accountId}'],
] as const;

function collectRefs(value: unknown, out: string[] = []): string[] {
  if (Array.isArray(value)) {
    for (const item of value) collectRefs(item, out);
  } else if (value !== null && typeof value === 'object') {
    for (const [key, child] of Object.entries(value)) {
      if (key === '$ref' && typeof child === 'string') out.push(child);
      else collectRefs(child, out);
    }
  }
  return out;
}

function resolvePointer(root: unknown, ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined;
  let node: unknown = root;
  for (const raw of ref.slice(2).split('/')) {
    const segment = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, segment)) return undefined;
    node = (node as Record<string, unknown>)[segment];
  }
  return node;
}

describe('openApiDocument', () => {
  const document = openApiDocument({ serverUrl: 'https://sync.example.com' });
  const json: unknown = JSON.parse(JSON.stringify(document));

  it('is plain JSON data (stringify and parse lose nothing) and OpenAPI 3.1', () => {
    expect(json).toEqual(document);
    expect(document.openapi).toBe('3.1.0');
    expect(document.servers).toEqual([{ url: 'https://sync.example.com' }]);
    expect(openApiDocument().servers).toBeUndefined();
    expect(JSON.stringify(openApiDocument())).toBe(JSON.stringify(openApiDocument()));
  });

  it.each(EXPECTED_OPERATIONS)('describes %s %s with a success response', (method, path) => {
    const operation = document.paths[path]?.[method] as { responses?: Record<string, unknown> } | undefined;
    expect(operation).toBeDefined();
    const statuses = Object.keys(operation?.responses ?? {});
    expect(statuses.some((status) => status.startsWith('2'))).toBe(true);
  });

  it('has no operations beyond the documented ones', () => {
    const operations = Object.entries(document.paths).flatMap(([path, item]) =>
      Object.keys(item).map((method) => `${method} ${path}`),
    );
    expect(operations.sort()).toEqual(EXPECTED_OPERATIONS.map(([m, p]) => `${m} ${p}`).sort());
  });

  it('resolves every $ref', () => {
    const refs = collectRefs(json);
    expect(refs.length).toBeGreaterThan(20);
    const unresolved = refs.filter((ref) => resolvePointer(json, ref) === undefined);
    expect(unresolved).toEqual([]);
  });

  it('answers errors of /v1 operations with ErrorResponse, and every error code is documented', () => {
    for (const [method, path] of EXPECTED_OPERATIONS.filter(([, p]) => p.startsWith('/v1/'))) {
      const operation = document.paths[path]?.[method] as { responses: Record<string, { $ref?: string }> };
      const errorStatuses = Object.keys(operation.responses).filter((status) => Number(status) >= 400);
      expect(errorStatuses.length).toBeGreaterThan(0);
      for (const status of errorStatuses) {
        const ref = operation.responses[status]?.$ref ?? '';
        const response = resolvePointer(json, ref) as { content: Record<string, { schema: unknown }> };
        expect(response.content['application/json']?.schema).toEqual({
          $ref: '#/components/schemas/ErrorResponse',
        });
      }
    }
    const descriptions = JSON.stringify(document.components.responses);
    for (const code of PROTOCOL_ERROR_CODES) expect(descriptions).toContain(code);
    const errorUnion = document.components.schemas.ProtocolError as { oneOf: unknown[] };
    expect(errorUnion.oneOf).toHaveLength(PROTOCOL_ERROR_CODES.length);
  });

  it('requires bearer auth except on the health and metrics endpoints', () => {
    expect(document.security).toEqual([{ bearerAuth: [] }]);
    expect(document.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    for (const path of ['/healthz', '/readyz', '/metrics']) {
      expect(document.paths[path]?.get?.security).toEqual([]);
    }
  });

  it('carries the wire schemas as JSON Schemas without per-schema $schema or $id', () => {
    const schemas = document.components.schemas;
    for (const name of [
      'SyncRequest',
      'SyncResponse',
      'LicenseResponse',
      'RegisterDeviceRequest',
      'ErrorResponse',
    ]) {
      expect(schemas[name]).toBeDefined();
      expect(schemas[name]).not.toHaveProperty('$schema');
      expect(schemas[name]).not.toHaveProperty('$id');
    }
    expect(schemas.SyncRequest).toMatchObject({
      type: 'object',
      properties: { events: { type: 'array', maxItems: 500 } },
    });
    expect(schemas.UuidV7).toMatchObject({ type: 'string', pattern: expect.stringContaining('-7') });
  });
});
