// Protocol and core may not import each other (docs/architecture.md), so the wire mirrors a few domain
// lists and shapes. The server imports both: here the two copies are held equal.
import * as core from '@satchel/core';
import * as coreSchemas from '@satchel/core/schemas';
import * as protocol from '@satchel/protocol';
import * as protocolSchemas from '@satchel/protocol/schemas';
import { describe, expect, expectTypeOf, it } from 'vitest';

describe('the wire mirrors the domain exactly', () => {
  it.each([
    ['rejection codes', protocol.DOMAIN_REJECTION_CODES, core.REJECTION_CODES],
    ['licence statuses', protocol.LICENSE_STATUSES, core.LICENSE_STATUSES],
    ['expiry reasons', protocol.EXPIRY_REASONS, core.EXPIRY_REASONS],
    ['device event types', protocol.DEVICE_EVENT_TYPES, core.DEVICE_EVENT_TYPES],
  ])('%s', (_name, wire, domain) => {
    expect([...wire]).toEqual([...domain]);
  });

  it('accepts the default policy and plan on both sides, and refuses the same bad ones', () => {
    expect(protocolSchemas.Policy.parse(core.DEFAULT_POLICY)).toEqual(core.DEFAULT_POLICY);
    expect(protocolSchemas.Plan.parse(core.DEFAULT_PLAN)).toEqual(core.DEFAULT_PLAN);
    const bad = { ...core.DEFAULT_POLICY, licenseDurationSec: 0 };
    expect(protocolSchemas.Policy.safeParse(bad).success).toBe(false);
    expect(coreSchemas.PolicySchema.safeParse(bad).success).toBe(false);
  });

  it('has one shape for a licence view and a policy', () => {
    expectTypeOf<core.LicenseView>().toExtend<protocol.LicenseView>();
    expectTypeOf<protocol.LicenseView>().toExtend<core.LicenseView>();
    expectTypeOf<core.Policy>().toEqualTypeOf<protocol.Policy>();
  });
});
