import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeServer } from '../fake-server.testkit.js';
import { bundleModule, launchChromium, startSite } from './harness.testkit.js';

const docs = fileURLToPath(new URL('../../../../docs/sdk.md', import.meta.url));

function example(name: string): string {
  const text = readFileSync(docs, 'utf8');
  const marker = `<!-- example: ${name} -->`;
  const at = text.indexOf(marker);
  if (at < 0) throw new Error(`docs/sdk.md has no ${marker}`);
  const block = /```ts\n([\s\S]*?)```/.exec(text.slice(at));
  if (block?.[1] === undefined) throw new Error(`no code block after ${marker}`);
  return block[1];
}

let site: Awaited<ReturnType<typeof startSite>>;
let browser: Awaited<ReturnType<typeof launchChromium>>;
const server = new FakeServer(() => Date.now());

beforeAll(async () => {
  site = await startSite(
    (request) => server.fetch(request),
    await bundleModule(example('examples/web/src/main.ts')),
  );
  browser = await launchChromium();
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await site?.close();
});

describe('docs/sdk.md', () => {
  it('the web player example runs as written', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(String(e)));
    await page.goto(`${site.url}?enrol=${server.enrolmentToken}`);
    await expect.poll(() => page.textContent('body'), { timeout: 15_000 }).toContain('synced:');
    const text = (await page.textContent('body')) ?? '';
    expect(errors).toEqual([]);
    expect(text).toContain('Playing: 48 h left');
    expect(text).toContain('synced: 3 events acknowledged');
    await context.close();
  });
});
