import { createDecipheriv } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { protectManifest } from './generate.js';
import { announcesKey, encryptChunk, encryptInit, framesOf, readElements } from './webm.js';

// Minimal EBML writer for fixtures: 1-byte sizes, as ffmpeg writes small elements.
const el = (id: number[], ...data: Buffer[]) => {
  const body = Buffer.concat(data);
  if (body.length > 126) throw new Error('fixture element too large');
  return Buffer.concat([Buffer.from(id), Buffer.from([0x80 | body.length]), body]);
};
const unknown = (id: number[], ...data: Buffer[]) =>
  Buffer.concat([Buffer.from(id), Buffer.from([0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]), ...data]);
const block = (track: number, flags: number, frame: string) =>
  Buffer.concat([Buffer.from([0x80 | track, 0, 0, flags]), Buffer.from(frame)]);

const init = Buffer.concat([
  el([0x1a, 0x45, 0xdf, 0xa3], el([0x42, 0x82], Buffer.from('webm'))),
  unknown(
    [0x18, 0x53, 0x80, 0x67],
    el([0x11, 0x4d, 0x9b, 0x74], el([0x4d, 0xbb], Buffer.from([0x53, 0xab, 0x81, 1]))),
    el([0xec], Buffer.alloc(4)),
    el([0x15, 0x49, 0xa9, 0x66], el([0x2a, 0xd7, 0xb1], Buffer.from([0x0f, 0x42, 0x40]))),
    el([0x16, 0x54, 0xae, 0x6b], el([0xae], el([0xd7], Buffer.from([1])), el([0x86], Buffer.from('V_VP9')))),
    el([0x12, 0x54, 0xc3, 0x67], el([0x73, 0x73])),
  ),
]);
const chunk = el(
  [0x1f, 0x43, 0xb6, 0x75],
  el([0xe7], Buffer.from([0])),
  el([0xa3], block(1, 0x80, 'first keyframe bytes')),
  el([0xa3], block(1, 0x00, 'a second frame, longer than one AES block')),
  el([0xa0], el([0xa1], block(1, 0x00, 'last frame in a group'))),
);
const KEY_ID = Buffer.from('00112233445566778899aabbccddeeff', 'hex');
const KEY = Buffer.from('0f0e0d0c0b0a09080706050403020100', 'hex');

describe('WebM ClearKey encryption', () => {
  it('announces AES-CTR encryption under the key id in every track and drops stale offsets', () => {
    const out = encryptInit(init, KEY_ID);
    expect(announcesKey(out, KEY_ID)).toBe(true);
    expect(announcesKey(init, KEY_ID)).toBe(false);
    const [, segment] = readElements(out);
    const ids = readElements(segment?.data ?? Buffer.alloc(0)).map((e) => e.id);
    expect(ids).toEqual([0x1549a966, 0x1654ae6b]);
  });

  it('encrypts every frame (signal byte, 8-byte IV, AES-128-CTR) so that it decrypts back', () => {
    const ivs = [1, 2, 3].map((n) => Buffer.alloc(8, n));
    let i = 0;
    const out = encryptChunk(chunk, KEY, () => ivs[i++] ?? Buffer.alloc(8));
    const plain = framesOf(chunk);
    const stored = framesOf(out);
    expect(stored).toHaveLength(3);
    stored.forEach((frame, n) => {
      expect(frame[0]).toBe(0x01);
      const iv = frame.subarray(1, 9);
      expect(iv).toEqual(ivs[n]);
      const body = frame.subarray(9);
      expect(body.equals(plain[n] ?? Buffer.alloc(0))).toBe(false);
      const decipher = createDecipheriv('aes-128-ctr', KEY, Buffer.concat([iv, Buffer.alloc(8)]));
      expect(Buffer.concat([decipher.update(body), decipher.final()])).toEqual(plain[n]);
    });
  });

  it('refuses laced blocks rather than encrypting them wrongly', () => {
    const laced = el([0x1f, 0x43, 0xb6, 0x75], el([0xa3], block(1, 0x82, 'xx')));
    expect(() => encryptChunk(laced, KEY)).toThrow(/laced/);
  });

  it('marks each adaptation set of the manifest as CENC with the key id and ClearKey', () => {
    const mpd =
      '<MPD a="1"><Period><AdaptationSet id="0"></AdaptationSet><AdaptationSet id="1"></AdaptationSet></Period></MPD>';
    const out = protectManifest(mpd, KEY_ID.toString('hex'));
    expect(out).toContain('xmlns:cenc="urn:mpeg:cenc:2013"');
    expect(out.match(/cenc:default_KID="00112233-4455-6677-8899-aabbccddeeff"/g)).toHaveLength(2);
    expect(out.match(/urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e/g)).toHaveLength(2);
  });
});
