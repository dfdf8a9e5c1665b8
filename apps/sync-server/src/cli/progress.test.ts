import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { progress } from './progress.js';

function capture(isTTY: boolean) {
  const stream = Object.assign(new PassThrough(), {
    isTTY,
    columns: 120,
    cursorTo: () => true,
    clearLine: () => true,
    moveCursor: () => true,
  });
  let text = '';
  stream.on('data', (d) => (text += d));
  return { stream, text: () => text };
}

describe('CLI progress', () => {
  it('draws a bar with the counts on a terminal', () => {
    const { stream, text } = capture(true);
    const p = progress('accounts', stream);
    p.update(0, 40);
    p.update(20, 40);
    p.stop();
    expect(text()).toMatch(/\d+\/40 accounts/);
  });

  it('writes nothing when the stream is not a terminal', () => {
    const { stream, text } = capture(false);
    const p = progress('accounts', stream);
    p.update(0, 40);
    p.update(40, 40);
    p.stop();
    expect(text()).toBe('');
  });
});
