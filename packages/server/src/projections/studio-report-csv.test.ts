import { REJECTION_CODES, REVOCATION_REASONS } from '@satchel/core';
import { describe, expect, it } from 'vitest';
import { type StudioMonthRow, studioReportCsv } from './studio-accounting.js';

const row = (over: Partial<StudioMonthRow>): StudioMonthRow => ({
  studio: 'Harbour Films',
  titleId: 'paper-moon',
  month: '2026-11',
  issued: 3,
  renewed: 1,
  released: 0,
  revoked: {},
  expired: 2,
  refused: {},
  accounts: 2,
  devices: 3,
  activeAtMonthEnd: 1,
  ...over,
});

const parse = (csv: string) =>
  csv
    .trim()
    .split('\r\n')
    .map((l) => l.split(','));

describe('the studio report as CSV', () => {
  it('has the same columns whatever the rows hold: every revocation reason and refusal code, zero when none', () => {
    const [quietHeader, quiet] = parse(studioReportCsv([row({})]));
    const [busyHeader, busy] = parse(
      studioReportCsv([row({ revoked: { TITLE_WITHDRAWN: 4 }, refused: { YEARLY_LIMIT: 2 } })]),
    );
    expect(quietHeader).toEqual(busyHeader);
    for (const reason of REVOCATION_REASONS) expect(quietHeader).toContain(`revoked_${reason.toLowerCase()}`);
    for (const code of REJECTION_CODES) expect(quietHeader).toContain(`refused_${code.toLowerCase()}`);
    const at = (cells: string[] | undefined, column: string) => cells?.[busyHeader?.indexOf(column) ?? -1];
    expect(at(quiet, 'revoked_title_withdrawn')).toBe('0');
    expect(at(busy, 'revoked_title_withdrawn')).toBe('4');
    expect(at(busy, 'refused_yearly_limit')).toBe('2');
    expect(at(busy, 'refused_monthly_limit')).toBe('0');
  });

  it('keeps a reason it does not know as a column of its own, after the known ones', () => {
    const [header, cells] = parse(studioReportCsv([row({ revoked: { SOMETHING_NEW: 1 } })]));
    const i = header?.indexOf('revoked_something_new') ?? -1;
    expect(i).toBeGreaterThan(header?.indexOf('revoked_admin') ?? Number.POSITIVE_INFINITY);
    expect(cells?.[i]).toBe('1');
  });

  it('quotes a studio name with a comma (RFC 4180)', () => {
    const csv = studioReportCsv([row({ studio: 'Harbour, Films "North"' })]);
    expect(csv.split('\r\n')[1]).toMatch(/^"Harbour, Films ""North""",paper-moon,2026-11,3,1,0,/);
  });
});
