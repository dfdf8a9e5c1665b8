import type { AdminService } from '../admin.js';
import { NotFoundError, type SatchelService } from '../service.js';

/**
 * `GET /v1/licenses/{licenseId}/history` for the licence's own device: the licence's events (issued,
 * downloaded, played, renewed, released, revoked, expired…) and the device's clock rollbacks, oldest
 * first, in the admin history's shape — what a player needs to draw the licence's timeline.
 * @throws {NotFoundError} when the licence is not this device's.
 */
export function licenseHistory(service: SatchelService, admin: AdminService) {
  return async (
    who: { accountId: string; deviceId: string },
    licenseId: string,
  ): Promise<{ events: Awaited<ReturnType<AdminService['history']>>['events']; next: null }> => {
    const { licenses } = await service.licenses(who.accountId, who.deviceId);
    if (!licenses.some((l) => l.licenseId === licenseId)) {
      throw new NotFoundError(`No licence ${licenseId} on this device`);
    }
    const [own, rollbacks] = await Promise.all([
      admin.history(who.accountId, { licenseId, all: true }),
      admin.history(who.accountId, {
        deviceId: who.deviceId,
        types: ['ClockRollbackDetected', 'DeviceRegistered'],
        all: true,
      }),
    ]);
    const events = [...own.events, ...rollbacks.events].sort((a, b) => a.version - b.version);
    return { events, next: null };
  };
}
