import * as z from 'zod/mini';
import { ERROR_CODES, PROTOCOL_ERROR_CODES, type ProtocolErrorCode } from './errors.js';
import {
  AccountDetail,
  AccountStateResponse,
  AccountsResponse,
  AdminDevicesResponse,
  AdminTitlesResponse,
  ChangePlanRequest,
  ChangePlanResponse,
  CreateAccountRequest,
  CreateAccountResponse,
  DeviceTokenResponse,
  HistoryResponse,
  MintDeviceTokenRequest,
  MintOperatorTokenRequest,
  OperatorTokenResponse,
  PolicyVersionsResponse,
  PutTitleRequest,
  PutTitleResponse,
  UpdateTitleRequest,
  WhoAmIResponse,
  WithdrawRequest,
  WithdrawResponse,
} from './schemas/admin.js';
import { CatalogueResponse, CatalogueTitle } from './schemas/catalogue.js';
import { DevicesResponse, RegisterDeviceRequest, RegisterDeviceResponse } from './schemas/devices.js';
import { ErrorResponse, ProtocolError } from './schemas/errors.js';
import { DeviceEventEnvelope } from './schemas/events.js';
import { LicenseRequest, LicenseResponse, LicensesResponse, Refusal } from './schemas/licenses.js';
import { EpochMs, Id, Plan, Policy, Uuid, UuidV7 } from './schemas/primitives.js';
import {
  ProjectionsResponse,
  RebuildResponse,
  RuleChangeRequest,
  StudioReportResponse,
  WhatIfAccountResponse,
  WhatIfRequest,
  WhatIfResponse,
} from './schemas/reports.js';
import { EventResult, SyncRequest, SyncResponse } from './schemas/sync.js';
import { Allowance, DeviceView, LicenseSnapshot, LicenseView } from './schemas/views.js';
import {
  MIN_SUPPORTED_PROTOCOL_VERSION,
  PROTOCOL_VERSION,
  PROTOCOL_VERSION_HEADER,
  REQUEST_ID_HEADER,
} from './version.js';

/** Options for {@link openApiDocument}. */
export interface OpenApiOptions {
  /** Base URL listed under `servers` (omitted when not given). */
  readonly serverUrl?: string;
}

type JsonObject = { [key: string]: unknown };

/** An OpenAPI 3.1 document: plain JSON data. */
export interface OpenApiDocument {
  readonly openapi: '3.1.0';
  readonly info: { readonly title: string; readonly version: string; readonly description: string };
  readonly servers?: ReadonlyArray<{ readonly url: string }>;
  readonly security: ReadonlyArray<Record<string, readonly string[]>>;
  readonly paths: Record<string, Record<string, JsonObject>>;
  readonly components: {
    readonly schemas: Record<string, JsonObject>;
    readonly responses: Record<string, JsonObject>;
    readonly parameters: Record<string, JsonObject>;
    readonly securitySchemes: Record<string, JsonObject>;
  };
}

const HealthResponse = z.object({ status: z.literal('ok') });
const ReadinessResponse = z.object({
  status: z.literal('ready'),
  /**
   * Present when the instance has a projection runner: whether this instance runs it (`running`; another
   * instance may hold a projection's lease: `leaseOwner` is that instance's `instanceId`) and each
   * projection generation's lag (events and seconds behind the feed).
   */
  details: z.optional(
    z.object({
      runner: z.optional(z.object({ instanceId: z.string(), running: z.boolean() })),
      projections: z.nullable(z.array(z.record(z.string(), z.unknown()))),
    }),
  ),
});

const schemaRef = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const responseRef = (name: string) => ({ $ref: `#/components/responses/${name}` });
const parameterRef = (name: string) => ({ $ref: `#/components/parameters/${name}` });

function componentSchemas(): Record<string, JsonObject> {
  const registry = z.registry<{ id: string; description?: string }>();
  const named: Record<string, z.core.$ZodType> = {
    EpochMs,
    Uuid,
    UuidV7,
    Id,
    Policy,
    Plan,
    DeviceEventEnvelope,
    SyncRequest,
    EventResult,
    SyncResponse,
    LicenseView,
    DeviceView,
    Allowance,
    LicenseSnapshot,
    LicenseRequest,
    Refusal,
    LicenseResponse,
    LicensesResponse,
    RegisterDeviceRequest,
    RegisterDeviceResponse,
    DevicesResponse,
    CatalogueTitle,
    CatalogueResponse,
    ProtocolError,
    ErrorResponse,
    HealthResponse,
    ReadinessResponse,
    MintOperatorTokenRequest,
    OperatorTokenResponse,
    MintDeviceTokenRequest,
    DeviceTokenResponse,
    WhoAmIResponse,
    AdminTitlesResponse,
    PutTitleRequest,
    PutTitleResponse,
    UpdateTitleRequest,
    PolicyVersionsResponse,
    WithdrawRequest,
    WithdrawResponse,
    CreateAccountRequest,
    CreateAccountResponse,
    AccountsResponse,
    AccountDetail,
    ChangePlanRequest,
    ChangePlanResponse,
    AdminDevicesResponse,
    HistoryResponse,
    AccountStateResponse,
    ProjectionsResponse,
    RebuildResponse,
    StudioReportResponse,
    WhatIfRequest,
    WhatIfResponse,
    RuleChangeRequest,
    WhatIfAccountResponse,
  };
  for (const [id, schema] of Object.entries(named)) registry.add(schema, { id });
  const generated = z.toJSONSchema(registry, {
    target: 'draft-2020-12',
    io: 'input',
    uri: (id) => `#/components/schemas/${id}`,
  });
  const schemas: Record<string, JsonObject> = {};
  for (const [id, schema] of Object.entries(generated.schemas)) {
    const { $schema: _schema, $id: _id, ...rest } = schema as JsonObject;
    schemas[id] = rest;
  }
  return schemas;
}

const ERROR_RESPONSES: ReadonlyArray<{ name: string; status: number; codes: readonly ProtocolErrorCode[] }> =
  [
    { name: 'BadRequest', status: 400, codes: ['BAD_REQUEST', 'VALIDATION_FAILED'] },
    { name: 'Unauthenticated', status: 401, codes: ['UNAUTHENTICATED', 'TOKEN_EXPIRED'] },
    { name: 'Forbidden', status: 403, codes: ['FORBIDDEN', 'DEVICE_DEACTIVATED', 'DEVICE_LIMIT_REACHED'] },
    { name: 'NotFound', status: 404, codes: ['NOT_FOUND'] },
    { name: 'MethodNotAllowed', status: 405, codes: ['METHOD_NOT_ALLOWED'] },
    { name: 'RequestTimeout', status: 408, codes: ['REQUEST_TIMEOUT'] },
    { name: 'SeqGap', status: 409, codes: ['SEQ_GAP'] },
    { name: 'DeviceAlreadyRegistered', status: 409, codes: ['DEVICE_ALREADY_REGISTERED'] },
    { name: 'PayloadTooLarge', status: 413, codes: ['PAYLOAD_TOO_LARGE'] },
    { name: 'UnsupportedMediaType', status: 415, codes: ['UNSUPPORTED_MEDIA_TYPE'] },
    { name: 'ProtocolVersionUnsupported', status: 426, codes: ['PROTOCOL_VERSION_UNSUPPORTED'] },
    { name: 'RateLimited', status: 429, codes: ['RATE_LIMITED'] },
    { name: 'Internal', status: 500, codes: ['INTERNAL'] },
    { name: 'Unavailable', status: 503, codes: ['CONCURRENCY_CONFLICT', 'UNAVAILABLE'] },
  ];

function componentResponses(): Record<string, JsonObject> {
  const responses: Record<string, JsonObject> = {};
  for (const { name, codes } of ERROR_RESPONSES) {
    const retry = codes.filter((code) => ERROR_CODES[code].retryable);
    responses[name] = {
      description:
        `Error codes: ${codes.join(', ')}.` +
        (retry.length > 0 ? ' Retryable: wait `retryAfterMs` before sending the request again.' : ''),
      headers: { [REQUEST_ID_HEADER]: { schema: { type: 'string' } } },
      content: { 'application/json': { schema: schemaRef('ErrorResponse') } },
    };
  }
  return responses;
}

function errors(...names: string[]): Record<string, JsonObject> {
  const out: Record<string, JsonObject> = {};
  for (const name of names) {
    const entry = ERROR_RESPONSES.find((response) => response.name === name);
    if (entry) out[String(entry.status)] = responseRef(name);
  }
  return out;
}

const JSON_ERRORS = ['BadRequest', 'RequestTimeout', 'UnsupportedMediaType', 'PayloadTooLarge'];
const COMMON_ERRORS = [
  'Unauthenticated',
  'Forbidden',
  'ProtocolVersionUnsupported',
  'RateLimited',
  'Internal',
  'Unavailable',
];
const VERSIONED = [parameterRef('ProtocolVersion'), parameterRef('RequestId')];

function ok(description: string, schema: string): JsonObject {
  return {
    description,
    headers: { [REQUEST_ID_HEADER]: { schema: { type: 'string' } } },
    content: { 'application/json': { schema: schemaRef(schema) } },
  };
}

/**
 * The what-if operation also answers `Accept: application/x-ndjson`: progress lines, then the report
 * (docs/decisions/0013-what-if-progress.md).
 */
function whatIfOperation(operation: JsonObject & { responses: Record<string, JsonObject> }): JsonObject {
  const line = {
    oneOf: [
      {
        type: 'object',
        required: ['type', 'done', 'total'],
        properties: {
          type: { const: 'progress' },
          done: { type: 'integer', description: 'accounts replayed so far' },
          total: { type: 'integer', description: 'accounts the change could touch' },
        },
      },
      {
        type: 'object',
        required: ['type', 'result'],
        properties: { type: { const: 'result' }, result: schemaRef('WhatIfResponse') },
      },
      {
        type: 'object',
        required: ['type', 'error'],
        properties: { type: { const: 'error' }, error: schemaRef('ProtocolError') },
      },
    ],
  };
  const ok200 = operation.responses['200'] as { content: Record<string, unknown> };
  return {
    ...operation,
    responses: {
      ...operation.responses,
      '200': {
        ...ok200,
        description:
          'The report; with `Accept: application/x-ndjson`, one JSON value a line: `progress` lines while it runs, then one `result` line (or one `error` line if it fails after the answer started)',
        content: { ...ok200.content, 'application/x-ndjson': { schema: line } },
      },
    },
  };
}

function jsonBody(schema: string): JsonObject {
  return { required: true, content: { 'application/json': { schema: schemaRef(schema) } } };
}

/**
 * The OpenAPI 3.1 description of the HTTP API, generated from the wire schemas (their JSON Schemas are
 * under `components.schemas`). Pure and deterministic: the same options give an equal document. Never
 * throws.
 */
export function openApiDocument(options: OpenApiOptions = {}): OpenApiDocument {
  const errorTable = PROTOCOL_ERROR_CODES.map(
    (code) => `| ${code} | ${ERROR_CODES[code].status} | ${ERROR_CODES[code].retryable ? 'yes' : 'no'} |`,
  ).join('\n');
  return {
    openapi: '3.1.0',
    info: {
      title: 'Satchel sync API',
      version: String(PROTOCOL_VERSION),
      description:
        `Offline-first licence sync. Protocol versions ${MIN_SUPPORTED_PROTOCOL_VERSION}..${PROTOCOL_VERSION} ` +
        `(header \`${PROTOCOL_VERSION_HEADER}\`). Times are epoch milliseconds; policy durations are seconds. ` +
        'A refusal by the licence rules is a 200 answer with `outcome: "refused"`, not an error.\n\n' +
        `| error code | HTTP status | retryable |\n| --- | --- | --- |\n${errorTable}`,
    },
    ...(options.serverUrl !== undefined ? { servers: [{ url: options.serverUrl }] } : {}),
    security: [{ bearerAuth: [] }],
    paths: {
      '/v1/sync': {
        post: {
          operationId: 'sync',
          summary: "Send a batch of the device's events; receive per-event results and the snapshot",
          parameters: VERSIONED,
          requestBody: jsonBody('SyncRequest'),
          responses: {
            '200': ok(
              'Per-event results, the acknowledged seq and the authoritative snapshot',
              'SyncResponse',
            ),
            ...errors(...JSON_ERRORS, 'SeqGap', ...COMMON_ERRORS),
          },
        },
      },
      '/v1/licenses': {
        post: {
          operationId: 'requestLicense',
          summary: 'Ask for a download licence for a title',
          parameters: VERSIONED,
          requestBody: jsonBody('LicenseRequest'),
          responses: {
            '200': ok('Granted, or refused by the rules with a reason', 'LicenseResponse'),
            ...errors(...JSON_ERRORS, ...COMMON_ERRORS),
          },
        },
        get: {
          operationId: 'listLicenses',
          summary: "The authenticated device's licences",
          parameters: VERSIONED,
          responses: {
            '200': ok("The device's licences", 'LicensesResponse'),
            ...errors(...COMMON_ERRORS),
          },
        },
      },
      '/v1/licenses/{licenseId}/renew': {
        post: {
          operationId: 'renewLicense',
          summary: 'Renew a licence (counts as a download)',
          parameters: [...VERSIONED, parameterRef('LicenseId')],
          responses: {
            '200': ok('Renewed, or refused by the rules with a reason', 'LicenseResponse'),
            ...errors('BadRequest', 'NotFound', ...COMMON_ERRORS),
          },
        },
      },
      '/v1/licenses/{licenseId}/release': {
        post: {
          operationId: 'releaseLicense',
          summary: 'Give a licence back (the download was deleted)',
          parameters: [...VERSIONED, parameterRef('LicenseId')],
          responses: {
            '200': ok('Released, or refused by the rules with a reason', 'LicenseResponse'),
            ...errors('BadRequest', 'NotFound', ...COMMON_ERRORS),
          },
        },
      },
      '/v1/catalogue': {
        get: {
          operationId: 'listCatalogue',
          summary: 'The catalogue: every title and the policy its studio set',
          parameters: VERSIONED,
          responses: {
            '200': ok('The titles', 'CatalogueResponse'),
            ...errors(...COMMON_ERRORS),
          },
        },
      },
      '/v1/devices': {
        post: {
          operationId: 'registerDevice',
          summary: "Register a device (bearer: the account's enrolment token)",
          parameters: VERSIONED,
          requestBody: jsonBody('RegisterDeviceRequest'),
          responses: {
            '201': ok("The device's id, token and first snapshot", 'RegisterDeviceResponse'),
            ...errors(...JSON_ERRORS, 'DeviceAlreadyRegistered', ...COMMON_ERRORS),
          },
        },
        get: {
          operationId: 'listDevices',
          summary: "The account's devices",
          parameters: VERSIONED,
          responses: {
            '200': ok("The account's devices", 'DevicesResponse'),
            ...errors(...COMMON_ERRORS),
          },
        },
      },
      '/v1/devices/{deviceId}': {
        delete: {
          operationId: 'deactivateDevice',
          summary: 'Deactivate a device; its licences are revoked',
          parameters: [...VERSIONED, parameterRef('DeviceId')],
          responses: {
            '200': ok("The account's devices after the change", 'DevicesResponse'),
            ...errors('BadRequest', 'NotFound', ...COMMON_ERRORS),
          },
        },
      },
      ...adminPaths(),
      '/healthz': {
        get: {
          operationId: 'health',
          summary: 'Liveness: the process answers',
          security: [],
          responses: { '200': ok('Alive', 'HealthResponse') },
        },
      },
      '/readyz': {
        get: {
          operationId: 'ready',
          summary: 'Readiness: the database is reachable and migrated',
          security: [],
          responses: { '200': ok('Ready', 'ReadinessResponse'), ...errors('Unavailable') },
        },
      },
      '/metrics': {
        get: {
          operationId: 'metrics',
          summary: 'Prometheus metrics',
          security: [],
          responses: {
            '200': {
              description: 'Prometheus text exposition format',
              content: { 'text/plain; version=0.0.4': { schema: { type: 'string' } } },
            },
          },
        },
      },
    },
    components: {
      schemas: componentSchemas(),
      responses: componentResponses(),
      parameters: {
        ProtocolVersion: {
          name: PROTOCOL_VERSION_HEADER,
          in: 'header',
          required: false,
          description: `Protocol version the client speaks (default ${PROTOCOL_VERSION}).`,
          schema: { type: 'integer', minimum: 1 },
        },
        RequestId: {
          name: REQUEST_ID_HEADER,
          in: 'header',
          required: false,
          description: 'Echoed in the response and in errors; generated when absent.',
          schema: { type: 'string', maxLength: 128 },
        },
        LicenseId: { name: 'licenseId', in: 'path', required: true, schema: schemaRef('Uuid') },
        DeviceId: { name: 'deviceId', in: 'path', required: true, schema: schemaRef('Id') },
        AccountId: { name: 'accountId', in: 'path', required: true, schema: schemaRef('Id') },
        TitleId: { name: 'titleId', in: 'path', required: true, schema: schemaRef('Id') },
      },
      securitySchemes: {
        bearerAuth: {
          type: 'http',
          scheme: 'bearer',
          description:
            'A device token, an account enrolment token (POST /v1/devices), or an operator token (/v1/admin: role `support` for GET routes, `admin` for all).',
        },
      },
    },
  };
}

const query = (name: string, description: string, schema: JsonObject = { type: 'string' }): JsonObject => ({
  name,
  in: 'query',
  required: false,
  description,
  schema,
});

/**
 * The operators' API (`/v1/admin`, docs/operations.md). Every route needs an operator token: `support`
 * may call the GET routes, `admin` every route; device and account tokens are refused (403).
 */
function adminPaths(): Record<string, Record<string, JsonObject>> {
  const read = (operationId: string, summary: string, schema: string, parameters: JsonObject[] = []) => ({
    operationId,
    summary: `${summary} (support, admin)`,
    tags: ['admin'],
    parameters: [...VERSIONED, ...parameters],
    responses: { '200': ok(summary, schema), ...errors('BadRequest', 'NotFound', ...COMMON_ERRORS) },
  });
  const write = (
    operationId: string,
    summary: string,
    schema: string,
    body: string | null,
    parameters: JsonObject[] = [],
    status = '200',
  ) => ({
    operationId,
    summary: `${summary} (admin)`,
    tags: ['admin'],
    parameters: [...VERSIONED, ...parameters],
    ...(body === null ? {} : { requestBody: jsonBody(body) }),
    responses: { [status]: ok(summary, schema), ...errors(...JSON_ERRORS, 'NotFound', ...COMMON_ERRORS) },
  });
  const account = parameterRef('AccountId');
  const title = parameterRef('TitleId');
  const instant = { oneOf: [{ type: 'integer' }, { type: 'string', format: 'date-time' }] };
  return {
    '/v1/admin/whoami': { get: read('adminWhoAmI', 'The operator this token speaks for', 'WhoAmIResponse') },
    '/v1/admin/tokens': {
      post: write(
        'adminMintToken',
        'Mint an operator token',
        'OperatorTokenResponse',
        'MintOperatorTokenRequest',
        [],
        '201',
      ),
    },
    '/v1/admin/catalogue': {
      get: read('adminListTitles', 'Every title with its policy version', 'AdminTitlesResponse'),
    },
    '/v1/admin/catalogue/{titleId}': {
      put: write(
        'adminPutTitle',
        'Create a title, or write its name and policy as a new version (licences keep the version they were issued under)',
        'PutTitleResponse',
        'PutTitleRequest',
        [title],
      ),
      patch: write(
        'adminUpdateTitle',
        'Change some policy fields of a title (a new version)',
        'PutTitleResponse',
        'UpdateTitleRequest',
        [title],
      ),
    },
    '/v1/admin/catalogue/{titleId}/versions': {
      get: read('adminTitleVersions', "Every version of a title's policy", 'PolicyVersionsResponse', [title]),
    },
    '/v1/admin/catalogue/{titleId}/withdraw': {
      post: write(
        'adminWithdrawTitle',
        'Withdraw a title now or at an instant',
        'WithdrawResponse',
        'WithdrawRequest',
        [title],
      ),
    },
    '/v1/admin/accounts': {
      get: read('adminListAccounts', 'Accounts, searched by id or name', 'AccountsResponse', [
        query('q', 'Part of the id or name (case-insensitive)'),
        query('limit', 'Page size (default 50, at most 500)', { type: 'integer' }),
        query('after', 'The `next` of the previous page'),
      ]),
      post: write(
        'adminCreateAccount',
        'Create and open an account (idempotent)',
        'CreateAccountResponse',
        'CreateAccountRequest',
        [],
        '201',
      ),
    },
    '/v1/admin/accounts/{accountId}': {
      get: read('adminGetAccount', 'An account now: plan, devices, licences', 'AccountDetail', [account]),
    },
    '/v1/admin/accounts/{accountId}/plan': {
      put: write(
        'adminChangePlan',
        'Change the plan; a downgrade revokes the excess with LIMIT_CONFLICT (R11)',
        'ChangePlanResponse',
        'ChangePlanRequest',
        [account],
      ),
    },
    '/v1/admin/accounts/{accountId}/devices': {
      get: read('adminListDevices', "The account's devices", 'AdminDevicesResponse', [account]),
    },
    '/v1/admin/accounts/{accountId}/devices/{deviceId}/token': {
      post: write(
        'adminMintDeviceToken',
        "Mint a device token of the device's current credential generation (refused for a deactivated device)",
        'DeviceTokenResponse',
        'MintDeviceTokenRequest',
        [account, parameterRef('DeviceId')],
        '201',
      ),
    },
    '/v1/admin/accounts/{accountId}/devices/{deviceId}/deactivate': {
      post: write(
        'adminDeactivateDevice',
        'Deactivate a device; its licences are revoked',
        'AdminDevicesResponse',
        null,
        [account, parameterRef('DeviceId')],
      ),
    },
    '/v1/admin/accounts/{accountId}/history': {
      get: read('adminHistory', "The account's events, oldest first, filtered and paged", 'HistoryResponse', [
        account,
        query('type', 'Event types, comma-separated'),
        query('device', 'Events of this device and its licences'),
        query('license', 'Events of this licence'),
        query('from', 'Events at or after this instant (epoch ms or ISO-8601)', instant),
        query('to', 'Events before this instant', instant),
        query('after', 'The `next` of the previous page (a stream version)', { type: 'integer' }),
        query('limit', 'Page size (default 100, at most 1000)', { type: 'integer' }),
        query('all', 'Every matching event in one answer', { type: 'boolean' }),
      ]),
    },
    '/v1/admin/reports/studios': {
      get: read(
        'adminStudioReport',
        'Studio accounting per studio, title and UTC month (`format=csv` for CSV)',
        'StudioReportResponse',
        [
          query('from', 'First month, YYYY-MM (default January of this year)'),
          query('to', 'Last month, YYYY-MM (default this month)'),
          query('studio', 'Only this studio'),
          query('format', '`json` (default) or `csv`', { type: 'string', enum: ['json', 'csv'] }),
        ],
      ),
    },
    '/v1/admin/projections': {
      get: read(
        'adminProjections',
        'Each projection generation and its lag behind the feed',
        'ProjectionsResponse',
      ),
    },
    '/v1/admin/projections/{name}/rebuild': {
      post: write(
        'adminRebuildProjection',
        'Rebuild a projection from position 0 in a new generation; the live one serves until it catches up',
        'RebuildResponse',
        null,
        [{ name: 'name', in: 'path', required: true, schema: { type: 'string' } }],
        '202',
      ),
    },
    '/v1/admin/what-if': {
      post: whatIfOperation(
        write(
          'adminWhatIf',
          'Re-decide the affected accounts under a proposed rule change and report what would differ (writes nothing)',
          'WhatIfResponse',
          'WhatIfRequest',
        ),
      ),
    },
    '/v1/admin/what-if/accounts/{accountId}': {
      post: write(
        'adminWhatIfAccount',
        'One account under a proposed rule change: its differences and both timelines (writes nothing)',
        'WhatIfAccountResponse',
        'RuleChangeRequest',
        [account],
      ),
    },
    '/v1/admin/accounts/{accountId}/state': {
      get: read('adminStateAt', 'The account at an instant, with the reasons', 'AccountStateResponse', [
        account,
        query('at', 'The instant (epoch ms or ISO-8601; default now)', instant),
        query(
          'basis',
          '`occurred` (default): events whose instant is at or before `at`; `recorded`: events the server had by then',
          {
            type: 'string',
            enum: ['occurred', 'recorded'],
          },
        ),
      ]),
    },
  };
}
