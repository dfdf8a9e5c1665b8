import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { encryptChunk, encryptInit } from './webm.js';

const run = promisify(execFile);

/** A title's content key (ClearKey): 16-byte key id and key, hex. */
export interface ContentKey {
  keyId: string;
  key: string;
}

/** The sample media of the reference server: one DASH stream per title and each title's ClearKey key. */
export interface MediaLibrary {
  /** The directory holding `<titleId>/manifest.mpd`, its segments and `keys.json`. */
  dir: string;
  /** Title id → content key, for the titles whose media exists. */
  keys: Map<string, ContentKey>;
}

/** Bump when the generated media changes shape: a library of another version is regenerated. */
export const MEDIA_VERSION = 1;
const DURATION_SEC = 6;
const PATTERNS = ['testsrc2', 'smptehdbars', 'testsrc', 'rgbtestsrc', 'yuvtestsrc', 'smptebars'];
const CLEARKEY_SYSTEM = 'urn:uuid:e2719d58-a985-b3c9-781a-b030af78d30e';

const uuid = (hex: string) =>
  `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;

/** Adds the CENC and ClearKey ContentProtection descriptors to every AdaptationSet of an MPD. */
export function protectManifest(mpd: string, keyId: string): string {
  const descriptors =
    `<ContentProtection schemeIdUri="urn:mpeg:dash:mp4protection:2011" value="cenc" cenc:default_KID="${uuid(keyId)}"/>` +
    `<ContentProtection schemeIdUri="${CLEARKEY_SYSTEM}" value="ClearKey1.0"/>`;
  return mpd
    .replace(/<MPD\b/, '<MPD xmlns:cenc="urn:mpeg:cenc:2013"')
    .replace(/(<AdaptationSet\b[^>]*[^/>]>)/g, `$1${descriptors}`);
}

async function encode(titleIndex: number, out: string): Promise<void> {
  const pattern = PATTERNS[titleIndex % PATTERNS.length];
  const frequency = 330 + 110 * titleIndex;
  await run(
    'ffmpeg',
    [
      ...['-hide_banner', '-loglevel', 'error', '-nostdin', '-y'],
      ...['-f', 'lavfi', '-i', `${pattern}=size=320x180:rate=25:duration=${DURATION_SEC}`],
      ...['-f', 'lavfi', '-i', `sine=frequency=${frequency}:duration=${DURATION_SEC}`],
      ...['-map', '0:v', '-map', '1:a', '-pix_fmt', 'yuv420p'],
      ...['-c:v', 'libvpx-vp9', '-b:v', '150k', '-deadline', 'realtime', '-cpu-used', '8'],
      ...['-g', '50', '-keyint_min', '50', '-c:a', 'libopus', '-b:a', '32k'],
      ...['-f', 'dash', '-dash_segment_type', 'webm', '-seg_duration', '2'],
      ...['-use_template', '1', '-use_timeline', '0'],
      ...['-init_seg_name', 'init-$RepresentationID$.webm'],
      ...['-media_seg_name', 'chunk-$RepresentationID$-$Number%03d$.webm'],
      join(out, 'manifest.mpd'),
    ],
    { timeout: 120_000 },
  );
}

/** Encodes one title's sample stream (VP9 + Opus WebM DASH from an ffmpeg test pattern) and encrypts it. */
async function generateTitle(titleIndex: number, dir: string, key: ContentKey): Promise<void> {
  const raw = await mkdtemp(join(tmpdir(), 'satchel-media-'));
  try {
    await encode(titleIndex, raw);
    await mkdir(dir, { recursive: true });
    const keyId = Buffer.from(key.keyId, 'hex');
    const contentKey = Buffer.from(key.key, 'hex');
    for (const name of await readdir(raw)) {
      const bytes = await readFile(join(raw, name));
      if (name === 'manifest.mpd') {
        await writeFile(join(dir, name), protectManifest(bytes.toString('utf8'), key.keyId));
      } else if (name.startsWith('init-')) {
        await writeFile(join(dir, name), encryptInit(bytes, keyId));
      } else if (name.startsWith('chunk-')) {
        await writeFile(join(dir, name), encryptChunk(bytes, contentKey));
      }
    }
  } finally {
    await rm(raw, { recursive: true, force: true });
  }
}

/**
 * Generates (once) the sample media for `titleIds` under `dir`: a 6-second 320×180 test pattern and a
 * sine tone per title, VP9 + Opus in WebM DASH, encrypted with a random ClearKey key per title. Needs
 * `ffmpeg` on the PATH (Debian's `ffmpeg` package). A library already generated at this
 * {@link MEDIA_VERSION} is reused as it is; a title missing from it is added.
 * @throws when ffmpeg is missing or fails.
 */
export async function ensureMedia(dir: string, titleIds: readonly string[]): Promise<MediaLibrary> {
  const index = join(dir, 'keys.json');
  let stored: { version: number; keys: Record<string, ContentKey> } = { version: MEDIA_VERSION, keys: {} };
  if (existsSync(index)) {
    const read = JSON.parse(await readFile(index, 'utf8')) as typeof stored;
    if (read.version === MEDIA_VERSION) stored = read;
    else await rm(dir, { recursive: true, force: true });
  }
  await mkdir(dir, { recursive: true });
  for (const [i, titleId] of titleIds.entries()) {
    if (stored.keys[titleId] && existsSync(join(dir, titleId, 'manifest.mpd'))) continue;
    const key = { keyId: randomBytes(16).toString('hex'), key: randomBytes(16).toString('hex') };
    const target = join(dir, titleId);
    const staging = `${target}.partial`;
    await rm(staging, { recursive: true, force: true });
    await generateTitle(i, staging, key);
    await rm(target, { recursive: true, force: true });
    await rename(staging, target);
    stored.keys[titleId] = key;
    await writeFile(index, JSON.stringify(stored, null, 2));
  }
  return { dir, keys: new Map(Object.entries(stored.keys).filter(([id]) => titleIds.includes(id))) };
}
