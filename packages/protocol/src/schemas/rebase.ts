import * as z from 'zod/mini';
import { EpochMs, Id, NonNegativeInt } from './primitives.js';
import { ProtocolVersionNumber } from './sync.js';
import { LicenseSnapshot } from './views.js';

const Seq = z.int().check(z.minimum(1));

/**
 * The body of `POST /v1/sync/rebase`: the server answered `SEQ_GAP` expecting `fromSeq`, and the device no
 * longer holds `fromSeq`…`toSeq` (they were acknowledged once, by a server since restored from a backup,
 * and have left the device's retention window). The server decides: if it indeed expects `fromSeq` next,
 * it records `DeviceHistoryRebased` in the account's history and moves the device's cursor to `toSeq`;
 * otherwise it answers `SEQ_GAP` again with what it expects.
 */
export const RebaseRequest = z.object({
  protocolVersion: ProtocolVersionNumber,
  deviceId: Id,
  fromSeq: Seq,
  toSeq: Seq,
});
export type RebaseRequest = z.infer<typeof RebaseRequest>;

/** The answer to `POST /v1/sync/rebase`: the device's cursor (`ackSeq` = `toSeq`) and its snapshot. */
export const RebaseResponse = z.object({
  protocolVersion: ProtocolVersionNumber,
  fromSeq: Seq,
  toSeq: Seq,
  ackSeq: NonNegativeInt,
  serverTime: EpochMs,
  snapshot: LicenseSnapshot,
});
export type RebaseResponse = z.infer<typeof RebaseResponse>;
