import { createCipheriv, randomBytes } from 'node:crypto';

// WebM encryption (https://www.webmproject.org/docs/webm-encryption/): each frame becomes a signal byte
// (0x01: encrypted), an 8-byte IV and the frame encrypted with AES-128-CTR (counter block = IV ‖ 0⁶⁴);
// the track announces it with ContentEncodings. Chromium's ClearKey CDM decrypts exactly this.

const ID = {
  segment: 0x18538067,
  seekHead: 0x114d9b74,
  void: 0xec,
  info: 0x1549a966,
  tracks: 0x1654ae6b,
  trackEntry: 0xae,
  tags: 0x1254c367,
  cues: 0x1c53bb6b,
  cluster: 0x1f43b675,
  simpleBlock: 0xa3,
  blockGroup: 0xa0,
  block: 0xa1,
  contentEncodings: 0x6d80,
  contentEncoding: 0x6240,
  contentEncodingOrder: 0x5031,
  contentEncodingScope: 0x5032,
  contentEncodingType: 0x5033,
  contentEncryption: 0x5035,
  contentEncAlgo: 0x47e1,
  contentEncKeyId: 0x47e2,
  contentEncAesSettings: 0x47e7,
  aesSettingsCipherMode: 0x47e8,
} as const;

interface Element {
  id: number;
  /** The element's payload (for an unknown-size element: up to the end of its parent). */
  data: Buffer;
  unknownSize: boolean;
}

function readVint(buf: Buffer, at: number, keepMarker: boolean): { value: number; length: number } {
  const first = buf[at];
  if (first === undefined || first === 0) throw new Error(`invalid EBML variable-size integer at ${at}`);
  const length = Math.clz32(first) - 23;
  let value = keepMarker ? first : first & (0xff >> length);
  for (let i = 1; i < length; i++) value = value * 256 + (buf[at + i] ?? 0);
  return { value, length };
}

/** The elements at one level of `buf`. */
export function readElements(buf: Buffer): Element[] {
  const out: Element[] = [];
  let at = 0;
  while (at < buf.length) {
    const id = readVint(buf, at, true);
    const size = readVint(buf, at + id.length, false);
    const start = at + id.length + size.length;
    const unknownSize = size.value === 2 ** (7 * size.length) - 1;
    const end = unknownSize ? buf.length : start + size.value;
    if (end > buf.length) throw new Error(`EBML element 0x${id.value.toString(16)} runs past its parent`);
    out.push({ id: id.value, data: buf.subarray(start, end), unknownSize });
    at = end;
  }
  return out;
}

function idBytes(id: number): Buffer {
  const bytes: number[] = [];
  for (let v = id; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from(bytes);
}

/** An element with its size written on 8 bytes (any size fits; parsers accept it). */
function element(id: number, data: Buffer, unknownSize = false): Buffer {
  const size = Buffer.alloc(8);
  size[0] = 0x01;
  if (unknownSize) size.fill(0xff, 1);
  else size.writeUIntBE(data.length, 2, 6);
  return Buffer.concat([idBytes(id), size, data]);
}

const uint = (id: number, value: number) => element(id, Buffer.from([value]));

function encryptionSettings(keyId: Buffer): Buffer {
  return element(
    ID.contentEncodings,
    element(
      ID.contentEncoding,
      Buffer.concat([
        uint(ID.contentEncodingOrder, 0),
        uint(ID.contentEncodingScope, 1),
        uint(ID.contentEncodingType, 1),
        element(
          ID.contentEncryption,
          Buffer.concat([
            uint(ID.contentEncAlgo, 5),
            element(ID.contentEncKeyId, keyId),
            element(ID.contentEncAesSettings, uint(ID.aesSettingsCipherMode, 1)),
          ]),
        ),
      ]),
    ),
  );
}

/**
 * Rewrites a WebM initialisation segment (EBML header + Segment with Info and Tracks) so that every track
 * is announced as AES-CTR encrypted under `keyId`. The SeekHead, Void and Tags are dropped: their offsets
 * would be stale, and a DASH player reads the Segment in order.
 */
export function encryptInit(init: Buffer, keyId: Buffer): Buffer {
  return Buffer.concat(
    readElements(init).map((top) => {
      if (top.id !== ID.segment) return element(top.id, top.data);
      const children = readElements(top.data).flatMap((child) => {
        if (child.id === ID.seekHead || child.id === ID.void || child.id === ID.tags) return [];
        if (child.id !== ID.tracks) return [element(child.id, child.data)];
        const entries = readElements(child.data).map((entry) =>
          entry.id === ID.trackEntry
            ? element(entry.id, Buffer.concat([entry.data, encryptionSettings(keyId)]))
            : element(entry.id, entry.data),
        );
        return [element(ID.tracks, Buffer.concat(entries))];
      });
      return element(ID.segment, Buffer.concat(children), top.unknownSize);
    }),
  );
}

function encryptBlock(block: Buffer, key: Buffer, iv: () => Buffer): Buffer {
  const track = readVint(block, 0, false);
  const headerLength = track.length + 3;
  const flags = block[track.length + 2] ?? 0;
  if ((flags & 0x06) !== 0) throw new Error('laced WebM blocks are not supported');
  const frameIv = iv();
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.concat([frameIv, Buffer.alloc(8)]));
  const frame = Buffer.concat([cipher.update(block.subarray(headerLength)), cipher.final()]);
  return Buffer.concat([block.subarray(0, headerLength), Buffer.from([0x01]), frameIv, frame]);
}

/**
 * Encrypts every frame of a WebM media segment (Clusters of SimpleBlocks and BlockGroups) with
 * AES-128-CTR under `key` (16 bytes), each frame with a fresh random 8-byte IV unless `iv` is given.
 */
export function encryptChunk(chunk: Buffer, key: Buffer, iv: () => Buffer = () => randomBytes(8)): Buffer {
  return Buffer.concat(
    readElements(chunk).map((top) => {
      if (top.id !== ID.cluster) return element(top.id, top.data, top.unknownSize);
      const children = readElements(top.data).map((child) => {
        if (child.id === ID.simpleBlock) return element(child.id, encryptBlock(child.data, key, iv));
        if (child.id !== ID.blockGroup) return element(child.id, child.data);
        const inner = readElements(child.data).map((e) =>
          e.id === ID.block ? element(e.id, encryptBlock(e.data, key, iv)) : element(e.id, e.data),
        );
        return element(child.id, Buffer.concat(inner));
      });
      return element(ID.cluster, Buffer.concat(children), top.unknownSize);
    }),
  );
}

/** The frames of a WebM media segment as stored (for tests): each block's payload after its header. */
export function framesOf(chunk: Buffer): Buffer[] {
  const frames: Buffer[] = [];
  const visit = (buf: Buffer) => {
    for (const e of readElements(buf)) {
      if (e.id === ID.cluster || e.id === ID.blockGroup) visit(e.data);
      else if (e.id === ID.simpleBlock || e.id === ID.block) {
        frames.push(e.data.subarray(readVint(e.data, 0, false).length + 3));
      }
    }
  };
  visit(chunk);
  return frames;
}

/** Whether an initialisation segment announces encryption under `keyId`. */
export function announcesKey(init: Buffer, keyId: Buffer): boolean {
  return init.includes(
    Buffer.concat([idBytes(ID.contentEncKeyId), Buffer.from([0x01, 0, 0, 0, 0, 0, 0, 16]), keyId]),
  );
}
