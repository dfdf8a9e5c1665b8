import { DAY_MS, type DomainEvent, event, HOUR_MS, policy, type RecordedEvent } from '@satchel/core';
import { describe, expect, it } from 'vitest';
import {
  buildTimeline,
  layoutMarks,
  MARK_GAP,
  MARK_ROWS,
  type TimelineMark,
  timelineScale,
  timelineSvg,
} from './index.js';
import { AXIS_CHAR_WIDTH, fitLabel, labelTextWidth } from './svg.js';

const T = Date.UTC(2026, 2, 1, 10);
const L = '00000000-0000-4000-8000-0000000000aa';
const plan = {
  planId: 'standard',
  maxDownloadDevices: 2,
  maxDownloadsPerDevice: 100,
  maxDownloadsPerMonth: null,
};

function history(): RecordedEvent[] {
  const server = (e: DomainEvent) => ({ e, device: null as string | null, arrived: e.data.at });
  const fromDevice = (e: DomainEvent, arrived: number) => ({ e, device: 'd1', arrived });
  const rows = [
    server(event('AccountOpened', { accountId: 'acc', plan, at: T })),
    server(event('DeviceRegistered', { deviceId: 'd1', name: 'Laptop', at: T })),
    server(
      event('LicenseIssued', {
        licenseId: L,
        deviceId: 'd1',
        titleId: 'night-train',
        policy: policy(),
        policyVersion: 2,
        at: T + HOUR_MS,
      }),
    ),
    fromDevice(
      event('DownloadCompleted', { licenseId: L, deviceId: 'd1', at: T + 2 * HOUR_MS }),
      T + 2 * HOUR_MS,
    ),
    fromDevice(
      event('PlaybackStarted', { licenseId: L, deviceId: 'd1', at: T + DAY_MS, positionMs: 0 }),
      T + 5 * DAY_MS,
    ),
    fromDevice(
      event('ClockRollbackDetected', {
        deviceId: 'd1',
        at: T + 2 * DAY_MS,
        wallClockAt: 1,
        behindMs: 60_000,
      }),
      T + 5 * DAY_MS,
    ),
    fromDevice(
      event('LicenseExpiryObserved', {
        licenseId: L,
        deviceId: 'd1',
        at: T + 3 * DAY_MS,
        reason: 'PLAYBACK_WINDOW',
      }),
      T + 5 * DAY_MS,
    ),
    server(event('LicenseExpired', { licenseId: L, at: T + 3 * DAY_MS, reason: 'PLAYBACK_WINDOW' })),
  ];
  return rows.map((r, i) => ({
    event: r.e,
    eventId: `ev-${i + 1}`,
    version: i + 1,
    recordedAt: r.arrived,
    deviceId: r.device,
  }));
}

describe('buildTimeline', () => {
  it('lays out the account, each device and each licence with its marks and bounds', () => {
    const model = buildTimeline('acc', history(), { titles: { 'night-train': 'Night Train' } });
    expect(model.lanes.map((l) => l.kind)).toEqual(['account', 'device', 'license']);
    const device = model.lanes[1];
    expect(device?.marks.map((m) => m.kind)).toEqual(['registered', 'check-in', 'rollback', 'check-in']);
    const license = model.lanes[2];
    expect(license?.label).toBe('Night Train');
    expect(license?.detail).toBe('Laptop · expired (PLAYBACK_WINDOW)');
    const kinds = license?.marks.map((m) => `${m.kind}${m.reason ? `:${m.reason}` : ''}`);
    expect(kinds).toEqual([
      'issued',
      'downloaded',
      'first-play',
      'observed:PLAYBACK_WINDOW',
      'expired:PLAYBACK_WINDOW',
      'bound:PLAYBACK_WINDOW',
      'bound:LICENSE_DURATION',
    ]);
    expect(license?.marks.find((m) => m.kind === 'first-play')?.eventId).toBe('ev-5');
    expect(license?.spans).toEqual([
      { from: T + HOUR_MS, to: T + 3 * DAY_MS, kind: 'term', open: false },
      { from: T + DAY_MS, to: T + 3 * DAY_MS, kind: 'window', open: false },
    ]);
  });

  it('marks the binding bound of a licence that has not ended as its expiry', () => {
    const open = history().slice(0, 4);
    const license = buildTimeline('acc', open).lanes[2];
    expect(license?.marks.filter((m) => m.kind === 'expiry').map((m) => m.reason)).toEqual(['RENTAL']);
  });
});

describe('timelineSvg', () => {
  it('draws every mark with its event id and the cursor at the scrubbed instant', () => {
    const model = buildTimeline('acc', history());
    const svg = timelineSvg(model, { at: T + DAY_MS });
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('data-event-id="ev-5"');
    expect(svg).toContain(`<g class="cursor" data-at="${T + DAY_MS}"`);
    expect(svg.match(/class="mark /g)).toHaveLength(model.lanes.flatMap((l) => l.marks).length);
  });

  it("cuts a lane's name and detail to its label column, whole in the lane's tooltip", () => {
    const device = '0195b3c2-7d4e-7a10-9c3f-5e2d8a9b1c44';
    const rows = history().map((r) =>
      r.event.type === 'DeviceRegistered'
        ? {
            ...r,
            event: event('DeviceRegistered', { deviceId: device, name: 'Living-room Wall Monitor', at: T }),
          }
        : r,
    );
    for (const labelWidth of [190, 150]) {
      const model = buildTimeline('acc', rows, {
        titles: { 'night-train': 'Night Train to Lisbon, Director’s Cut' },
      });
      const svg = timelineSvg(model, { width: 540, labelWidth });
      const texts = [
        ...svg.matchAll(/<text class="lane-(?:label|detail)" x="([\d.]+)"[^>]*>([^<]+)<\/text>/g),
      ];
      expect(texts).toHaveLength(2 * model.lanes.length);
      for (const [, x, t = ''] of texts) {
        expect(Number(x) + labelTextWidth(t), t).toBeLessThanOrEqual(labelWidth - 6);
      }
      expect(texts.map((m) => m[2])).toContain(fitLabel(`device ${device}`, labelWidth - 12));
      expect(fitLabel(`device ${device}`, labelWidth - 12)).toMatch(/^device 0195b3c2-.*…$/);
      expect(svg).toContain(`<title>Living-room Wall Monitor — device ${device}</title>`);
    }
    expect(fitLabel('Laptop', 178)).toBe('Laptop');
    expect(fitLabel('Laptop', 5)).toBe('');
  });

  it('escapes names and maps instants to x and back', () => {
    const rows = history();
    rows[1] = {
      ...(rows[1] as RecordedEvent),
      event: event('DeviceRegistered', { deviceId: 'd1', name: '<b>"x"</b>', at: T }),
    };
    const model = buildTimeline('acc', rows);
    expect(timelineSvg(model)).toContain('&lt;b&gt;&quot;x&quot;&lt;/b&gt;');
    const scale = timelineScale(model, { width: 800 });
    const mid = model.from + (model.to - model.from) / 2;
    expect(Math.abs(scale.at(scale.x(mid)) - mid)).toBeLessThan((model.to - model.from) / 500);
  });
});

describe('extra marks', () => {
  it('adds what a device saw to its lanes, in order', () => {
    const model = buildTimeline('acc', history(), {
      extraMarks: {
        [L]: [{ at: T + 3 * HOUR_MS, kind: 'play-refused', label: 'refused', eventId: null }],
        d1: [{ at: T + 30 * 60_000, kind: 'clock-set', label: 'clock set', eventId: null }],
      },
    });
    expect(model.lanes[2]?.marks.map((m) => m.kind).slice(0, 3)).toEqual([
      'issued',
      'downloaded',
      'play-refused',
    ]);
    expect(model.lanes[1]?.marks.map((m) => m.kind).slice(0, 2)).toEqual(['registered', 'clock-set']);
    expect(timelineSvg(model)).toContain('class="mark mark-play-refused"');
  });

  it('never overlaps two axis labels: a short range at full width and a narrow drawing', () => {
    const short = buildTimeline('acc', history(), { from: T, to: T + 20 * 60_000 });
    for (const [model, width] of [
      [short, 960],
      [short, 560],
      [buildTimeline('acc', history()), 960],
      [buildTimeline('acc', history()), 420],
    ] as const) {
      const svg = timelineSvg(model, { width });
      const labels = [...svg.matchAll(/<text class="axis-label" x="([\d.]+)"[^>]*>([^<]+)<\/text>/g)].map(
        (m) => ({ left: Number(m[1]), right: Number(m[1]) + (m[2] ?? '').length * AXIS_CHAR_WIDTH }),
      );
      expect(labels.length).toBeGreaterThanOrEqual(2);
      for (const [i, l] of labels.entries()) {
        expect(l.left).toBeGreaterThanOrEqual(0);
        expect(l.right).toBeLessThanOrEqual(width);
        if (i > 0) expect(l.left).toBeGreaterThanOrEqual(labels[i - 1]?.right ?? 0);
      }
    }
  });
});

describe('marks at nearly the same instant', () => {
  const at = (i: number, kind: TimelineMark['kind'] = 'issued'): TimelineMark => ({
    at: T + i * 1000,
    kind,
    label: `${kind} ${i}`,
    eventId: `e${i}`,
  });
  const scale = { from: T, to: T + 2 * DAY_MS, x: (t: number) => 198 + ((t - T) / (2 * DAY_MS)) * 750 };

  it('go on separate rows, so no two point marks of one row come closer than the gap', () => {
    const marks = [at(0), at(1, 'downloaded'), at(2, 'first-play'), at(3, 'renewed'), at(4, 'rollback')];
    const layout = layoutMarks(marks, scale);
    expect(layout.placed.map((p) => p.row)).toEqual([0, 1, 2, 3, 4]);
    expect(layout.groups).toEqual([]);
    for (const a of layout.placed)
      for (const b of layout.placed)
        if (a !== b && a.row === b.row) expect(Math.abs(a.x - b.x)).toBeGreaterThanOrEqual(MARK_GAP);
  });

  it('share a row again once far enough apart, and leave ticks (bounds, check-ins) on the middle', () => {
    const far = { ...at(0), at: T + DAY_MS };
    const layout = layoutMarks([at(0), at(1, 'downloaded'), far, at(2, 'check-in')], scale);
    expect(layout.placed.map((p) => [p.mark.label, p.row])).toEqual([
      ['issued 0', 0],
      ['downloaded 1', 1],
      ['check-in 2', -1],
      ['issued 0', 0],
    ]);
    expect(layout.rows).toBe(2);
  });

  it('are grouped under one "+N" once the rows are full, every mark still counted', () => {
    const marks = Array.from({ length: MARK_ROWS + 3 }, (_, i) => at(i));
    const layout = layoutMarks(marks, scale);
    expect(layout.placed).toHaveLength(MARK_ROWS);
    expect(layout.groups.map((g) => g.marks.length)).toEqual([3]);
    expect(layout.rows).toBe(MARK_ROWS + 1);
    const model = buildTimeline('acc', history(), { extraMarks: { [L]: marks } });
    const svg = timelineSvg(model);
    expect(svg).toMatch(/<g class="mark-group" data-count="\d+">/);
  });

  it('make the lane taller in the drawing instead of overlapping: a licence issued, downloaded and played within seconds', () => {
    const rows = history().map((r) =>
      r.event.type === 'DownloadCompleted' || r.event.type === 'PlaybackStarted'
        ? { ...r, event: { ...r.event, data: { ...r.event.data, at: T + HOUR_MS + 2000 } } as DomainEvent }
        : r,
    );
    const svg = timelineSvg(buildTimeline('acc', rows));
    const points = [
      ...svg.matchAll(
        /class="mark mark-(issued|downloaded|first-play)"[^>]*><title>[^<]*<\/title><(?:circle cx="([\d.]+)" cy="([\d.]+)")/g,
      ),
    ].map((m) => [Number(m[2]), Number(m[3])] as const);
    expect(points).toHaveLength(3);
    for (const [i, a] of points.entries())
      for (const b of points.slice(i + 1))
        expect(Math.hypot(a[0] - b[0], a[1] - b[1])).toBeGreaterThanOrEqual(9);
  });
});

describe('the legend', () => {
  it('fits inside the drawing however many rows it wraps to', () => {
    for (const width of [960, 640, 420]) {
      const svg = timelineSvg(buildTimeline('acc', history()), { width });
      const height = Number(/height="(\d+(?:\.\d+)?)"/.exec(svg)?.[1]);
      const ys = [...svg.matchAll(/<g class="legend">.*?<text x="[\d.]+" y="([\d.]+)"/g)].map((m) =>
        Number(m[1]),
      );
      expect(ys.length).toBeGreaterThan(10);
      expect(Math.max(...ys) + 4, `width ${width}`).toBeLessThanOrEqual(height);
    }
  });
});
