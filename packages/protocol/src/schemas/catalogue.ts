import * as z from 'zod/mini';
import { Id, Policy } from './primitives.js';

/** A title of the catalogue, with the policy its studio set. */
export const CatalogueTitle = z.object({
  titleId: Id,
  name: z.string().check(z.minLength(1), z.maxLength(200)),
  policy: Policy,
});
export type CatalogueTitle = z.infer<typeof CatalogueTitle>;

/** The answer to `GET /v1/catalogue`: every title a device may ask a licence for, sorted by id. */
export const CatalogueResponse = z.object({ titles: z.array(CatalogueTitle) });
export type CatalogueResponse = z.infer<typeof CatalogueResponse>;
