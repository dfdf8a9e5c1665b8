// `@satchel/protocol/openapi`: the OpenAPI 3.1 document of the sync API, built from the schemas.
export { type OpenApiDocument, type OpenApiOptions, openApiDocument } from '../openapi.js';
