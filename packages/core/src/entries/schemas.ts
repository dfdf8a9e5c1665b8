// `@satchel/core/schemas`: the zod schemas of every event payload, policy and plan, and `upcast`, which
// reads a stored or received event of any schema version and validates it. For code that reads
// untrusted events (the server; tools). The browser SDK never imports this entry.
export { eventDataSchemas, upcast, upcastStored } from '../schemas/events.js';
export { PlanSchema, PolicySchema } from '../schemas/policy.js';
