import { openApiDocument } from '../src/entries/openapi.js';

const serverUrl = process.argv[2];
process.stdout.write(`${JSON.stringify(openApiDocument(serverUrl ? { serverUrl } : {}), null, 2)}\n`);
