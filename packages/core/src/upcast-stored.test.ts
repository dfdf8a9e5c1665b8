import { describe, expect, it } from 'vitest';
import { isSatchelError } from './errors.js';
import { CURRENT_EVENT_VERSIONS } from './events.js';
import { upcast, upcastStored } from './schemas/events.js';
import { MARCH_1 } from './testing.js';

describe('upcastStored: each event validated once', () => {
  it('takes a stored current-version event as it is, without validating it again', () => {
    const data = { deviceId: 'd1', name: 'Laptop', at: MARCH_1 };
    const stored = { type: 'DeviceRegistered', v: CURRENT_EVENT_VERSIONS.DeviceRegistered, data };
    const read = upcastStored(stored);
    expect(read).toEqual({ type: 'DeviceRegistered', data });
    // The same object: no parse, no copy.
    expect(read.data).toBe(data);
    expect(upcast(stored)).toEqual(read);
  });

  it('upcasts and validates an older version as upcast does', () => {
    const stored = { type: 'DeviceRegistered', v: 1, data: { deviceId: 'd1', at: MARCH_1 } };
    expect(upcastStored(stored)).toEqual(upcast(stored));
    expect(upcastStored(stored).data).toMatchObject({ name: 'Unnamed device' });
    const broken = upcastStored.bind(null, { type: 'DeviceRegistered', v: 1, data: { deviceId: 7 } });
    expect(broken).toThrow(expect.objectContaining({ code: 'INVALID_EVENT' }));
  });

  it('refuses what this code cannot read at all: an unknown type, a newer version, a payload not an object', () => {
    for (const event of [
      { type: 'Nope', v: 1, data: {} },
      { type: 'DeviceRegistered', v: 99, data: {} },
      { type: 'DeviceRegistered', v: CURRENT_EVENT_VERSIONS.DeviceRegistered, data: null },
    ]) {
      let error: unknown;
      try {
        upcastStored(event);
      } catch (e) {
        error = e;
      }
      expect(isSatchelError(error)).toBe(true);
    }
  });
});
