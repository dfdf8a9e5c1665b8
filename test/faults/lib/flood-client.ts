// The hostile device of flood.faults.test.ts, in a process of its own (as an attacker is another
// machine: its sending does not share the well-behaved client's event loop). Env: FLOOD_URL, FLOOD_TOKEN,
// FLOOD_DEVICE, FLOOD_NESTED_PER_SECOND, FLOOD_FLAT_PER_SECOND, FLOOD_LANES. Floods until its stdin
// closes, then prints one JSON line: `{"sent":N,"refused":{"<status> <code>":N},"problems":[…]}`.
import { Agent } from 'node:http';
import { postSync } from './post-sync.js';

const url = process.env.FLOOD_URL ?? '';
const token = process.env.FLOOD_TOKEN ?? '';
const deviceId = process.env.FLOOD_DEVICE ?? '';
const nestedPerSecond = Number(process.env.FLOOD_NESTED_PER_SECOND ?? 4);
const flatPerSecond = Number(process.env.FLOOD_FLAT_PER_SECOND ?? 17);
const lanes = Number(process.env.FLOOD_LANES ?? 6);

const MIB = 1024 * 1024;
/** `[` × 524 287 then `]` × 524 287: 1 MiB less 2 bytes, nesting 524 287 deep. */
const nested = Buffer.from(`${'['.repeat(MIB / 2 - 1)}${']'.repeat(MIB / 2 - 1)}`);
/** A flat sync body of just under 1 MiB: one event whose id is a string of a megabyte. */
const head = `{"protocolVersion":1,"deviceId":"${deviceId}","snapshotVersion":null,"events":[{"eventId":"`;
const flat = Buffer.from(`${head}${'x'.repeat(MIB - head.length - 64)}","seq":1}]}`);

const agent = new Agent({ keepAlive: true, maxSockets: lanes });
const result = { sent: 0, refused: {} as Record<string, number>, problems: [] as string[] };
let running = true;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const post = (body: Buffer) => postSync(url, agent, token, body);

const count = (kind: string) => {
  result.refused[kind] = (result.refused[kind] ?? 0) + 1;
};

async function lane(body: Buffer, perSecond: number) {
  const interval = 1000 / perSecond;
  let next = performance.now();
  while (running) {
    const wait = next - performance.now();
    if (wait > 0) await sleep(wait);
    if (!running) break;
    next += interval;
    result.sent++;
    try {
      const answer = await post(body);
      let code = 'untyped';
      try {
        code = (JSON.parse(answer.text) as { error?: { code?: string } }).error?.code ?? 'untyped';
      } catch {}
      count(`${answer.status} ${code}`);
      if (answer.status < 400 || answer.status >= 500 || code === 'untyped')
        result.problems.push(`${answer.status} ${code}: ${answer.text.slice(0, 120)}`);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
      // A server that closes a connection after refusing a body it will not read is refusing it too.
      if (code === 'ECONNRESET' || code === 'EPIPE') count('closed');
      else result.problems.push(`no answer: ${code}`);
    }
  }
}

const nestedLanes = Math.max(1, Math.floor(lanes / 3));
const flatLanes = Math.max(1, lanes - nestedLanes);
const all = [
  ...Array.from({ length: nestedLanes }, () => lane(nested, nestedPerSecond / nestedLanes)),
  ...Array.from({ length: flatLanes }, () => lane(flat, flatPerSecond / flatLanes)),
];
process.stdout.write('FLOODING\n');
process.stdin.resume();
process.stdin.on('end', async () => {
  running = false;
  await Promise.all(all);
  agent.destroy();
  process.stdout.write(`${JSON.stringify(result)}\n`, () => process.exit(0));
});
