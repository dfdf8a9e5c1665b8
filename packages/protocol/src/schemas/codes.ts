import * as z from 'zod/mini';
import { DOMAIN_REJECTION_CODES, EVENT_REJECTION_CODES } from '../codes.js';

/** One of `DOMAIN_REJECTION_CODES`. */
export const DomainRejectionCode = z.enum(DOMAIN_REJECTION_CODES);
export type DomainRejectionCode = z.infer<typeof DomainRejectionCode>;

/** One of `EVENT_REJECTION_CODES`: a closed set, a rejection with another code is malformed. */
export const EventRejectionCode = z.enum(EVENT_REJECTION_CODES);
export type EventRejectionCode = z.infer<typeof EventRejectionCode>;
