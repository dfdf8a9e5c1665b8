import type { TimelineMark, TimelineMarkKind, TimelineModel } from './model.js';

/** Options of {@link timelineSvg}. */
export interface TimelineSvgOptions {
  /** Width of the drawing in CSS pixels (default 960). */
  readonly width?: number;
  /** Height of one lane (default 34). */
  readonly laneHeight?: number;
  /** Width of the label column (default 190). */
  readonly labelWidth?: number;
  /** The scrubbed instant, drawn as a vertical line (none when absent). */
  readonly at?: number;
  /** Draw the legend under the lanes (default true). */
  readonly legend?: boolean;
}

/** Colour and shape of each mark kind; the legend lists them in this order. */
export const TIMELINE_MARK_STYLE: Readonly<
  Record<TimelineMarkKind, { readonly colour: string; readonly shape: 'dot' | 'tick' | 'diamond' | 'cross' }>
> = {
  opened: { colour: '#1f6feb', shape: 'diamond' },
  plan: { colour: '#8250df', shape: 'diamond' },
  withdrawn: { colour: '#9a6700', shape: 'diamond' },
  registered: { colour: '#1f6feb', shape: 'dot' },
  deactivated: { colour: '#cf222e', shape: 'cross' },
  'check-in': { colour: '#1a7f37', shape: 'tick' },
  rollback: { colour: '#bc4c00', shape: 'diamond' },
  issued: { colour: '#1f6feb', shape: 'dot' },
  renewed: { colour: '#0969da', shape: 'dot' },
  downloaded: { colour: '#1a7f37', shape: 'dot' },
  'first-play': { colour: '#8250df', shape: 'dot' },
  bound: { colour: '#6e7781', shape: 'tick' },
  expiry: { colour: '#cf222e', shape: 'tick' },
  observed: { colour: '#bc4c00', shape: 'dot' },
  expired: { colour: '#cf222e', shape: 'cross' },
  revoked: { colour: '#a40e26', shape: 'cross' },
  released: { colour: '#57606a', shape: 'cross' },
  play: { colour: '#2ca02c', shape: 'dot' },
  'play-refused': { colour: '#bc4c00', shape: 'cross' },
  'clock-set': { colour: '#cf222e', shape: 'diamond' },
};

const escapeXml = (text: string) =>
  text.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );

const iso = (ms: number) => new Date(ms).toISOString().replace('.000Z', 'Z');

/** The geometry shared by the renderer and the scrubber: instant ↔ x. */
export interface TimelineScale {
  readonly x0: number;
  readonly x1: number;
  readonly from: number;
  readonly to: number;
  x(at: number): number;
  at(x: number): number;
}

/** The scale of a drawing of `model` with `options`. */
export function timelineScale(model: TimelineModel, options: TimelineSvgOptions = {}): TimelineScale {
  const width = options.width ?? 960;
  const x0 = (options.labelWidth ?? 190) + 8;
  const x1 = width - 12;
  const { from, to } = model;
  return {
    x0,
    x1,
    from,
    to,
    x: (at) => x0 + ((Math.min(Math.max(at, from), to) - from) / (to - from)) * (x1 - x0),
    at: (x) => Math.round(from + ((Math.min(Math.max(x, x0), x1) - x0) / (x1 - x0)) * (to - from)),
  };
}

function shape(kind: TimelineMarkKind, x: number, y: number): string {
  const { colour, shape: s } = TIMELINE_MARK_STYLE[kind];
  switch (s) {
    case 'dot':
      return `<circle cx="${x}" cy="${y}" r="4.5" fill="${colour}"/>`;
    case 'tick':
      return `<line x1="${x}" y1="${y - 9}" x2="${x}" y2="${y + 9}" stroke="${colour}" stroke-width="2"${kind === 'bound' ? ' stroke-dasharray="3 2"' : ''}/>`;
    case 'diamond':
      return `<path d="M${x} ${y - 6}L${x + 6} ${y}L${x} ${y + 6}L${x - 6} ${y}Z" fill="${colour}"/>`;
    case 'cross':
      return `<path d="M${x - 5} ${y - 5}L${x + 5} ${y + 5}M${x + 5} ${y - 5}L${x - 5} ${y + 5}" stroke="${colour}" stroke-width="2.5"/>`;
  }
}

/** Estimated width of one character of an axis label, in px (font-size 11; DejaVu Sans digits are 0.636 em). */
export const AXIS_CHAR_WIDTH = 0.64 * 11;
const AXIS_GAP = 8;

/** One label of the time axis: its tick's instant and x, its text, and the span `[left, right]` it covers (px). */
export interface TimelineAxisTick {
  readonly at: number;
  readonly x: number;
  readonly text: string;
  readonly left: number;
  readonly right: number;
}

/**
 * The time axis of a drawing of `model`: up to six evenly spaced ticks, each label centred on its tick
 * but kept inside the drawing, with fewer ticks when labels (estimated at {@link AXIS_CHAR_WIDTH} px per
 * character) would come closer than 8 px — so no two labels overlap at any range or width. Pure.
 */
export function timelineAxis(model: TimelineModel, options: TimelineSvgOptions = {}): TimelineAxisTick[] {
  const width = options.width ?? 960;
  const scale = timelineScale(model, options);
  const span = model.to - model.from;
  const label = (at: number) => {
    const text = iso(at).replace('T', ' ');
    return span < 2 * 3_600_000
      ? text.slice(0, 19)
      : span < 3 * 86_400_000
        ? text.slice(0, 16)
        : text.slice(0, 10);
  };
  let best: TimelineAxisTick[] = [];
  for (let ticks = 5; ticks >= 1; ticks--) {
    const axis: TimelineAxisTick[] = [];
    for (let i = 0; i <= ticks; i++) {
      const at = model.from + (span * i) / ticks;
      const x = scale.x(at);
      const text = label(at);
      const w = text.length * AXIS_CHAR_WIDTH;
      const left = Math.min(Math.max(x - w / 2, 0), Math.max(width - w, 0));
      axis.push({ at, x, text, left, right: left + w });
    }
    best = axis;
    if (axis.every((t, i) => i === 0 || t.left >= (axis[i - 1]?.right ?? 0) + AXIS_GAP)) return axis;
  }
  return best.slice(0, 1);
}

// Advance widths (em) of DejaVu Sans Bold, rounded up by class of character: wider than its regular
// weight and than the usual system-ui fonts. Characters past ASCII count as 1.1 em.
const CHAR_EM: readonly (readonly [RegExp, number])[] = [
  [/[ !'(),./:;I[\]fijlrt|]/, 0.5],
  [/[%@MWmw]/, 1.12],
  [/[A-Z#&+<=>^~]/, 0.88],
  [/[\x20-\x7e]/, 0.74],
];
const charEm = (c: string) => CHAR_EM.find(([re]) => re.test(c))?.[1] ?? 1.1;

/** Estimated width (px) of `text` at font-size 11: an upper bound for DejaVu Sans (regular or bold) and narrower fonts. */
export function labelTextWidth(text: string): number {
  let em = 0;
  for (const c of text) em += charEm(c);
  return em * 11;
}

/**
 * `text` as it fits in `room` px ({@link labelTextWidth}): unchanged when it does, else cut with an ellipsis.
 * Pure.
 */
export function fitLabel(text: string, room: number): string {
  if (labelTextWidth(text) <= room) return text;
  const chars = [...text];
  while (chars.length > 0 && labelTextWidth(`${chars.join('')}…`) > room) chars.pop();
  return chars.length === 0 ? '' : `${chars.join('').trimEnd()}…`;
}

/** Smallest horizontal distance (px) between two point marks drawn on one row of a lane. */
export const MARK_GAP = 13;
/** Vertical distance (px) between the rows of stacked marks. */
export const MARK_ROW = 13;
/** Rows of stacked marks a lane holds; marks beyond them are grouped under a "+N" label. */
export const MARK_ROWS = 5;

/** A mark placed on a lane: its x and its row (0 is the first; rows are centred on the lane). */
export interface PlacedMark {
  readonly mark: TimelineMark;
  readonly x: number;
  readonly row: number;
}

/** Marks that found no free row near `x`: drawn as one "+N" label whose tooltip lists them. */
export interface MarkGroup {
  readonly x: number;
  readonly marks: readonly TimelineMark[];
}

/** How a lane's marks are drawn: each point mark on a row, the overflow grouped, and the rows used. */
export interface MarkLayout {
  readonly placed: readonly PlacedMark[];
  readonly groups: readonly MarkGroup[];
  readonly rows: number;
}

/**
 * Lays out a lane's marks so that close ones stay readable: point marks (dots, diamonds, crosses) less
 * than {@link MARK_GAP} px apart go on separate rows, up to {@link MARK_ROWS}; any more near the same
 * instant are grouped. Ticks (check-ins, bounds, expiry) are thin lines and stay on the lane's middle
 * (row 0 of a one-row lane; they are placed with `row: -1`). Marks outside `[from, to]` are left out.
 * Pure.
 */
export function layoutMarks(
  marks: readonly TimelineMark[],
  scale: Pick<TimelineScale, 'x' | 'from' | 'to'>,
): MarkLayout {
  const placed: PlacedMark[] = [];
  const groups: { x: number; marks: TimelineMark[] }[] = [];
  const rowEnd: number[] = [];
  const inRange = marks
    .map((mark, i) => ({ mark, i, x: scale.x(mark.at) }))
    .filter(({ mark }) => mark.at >= scale.from && mark.at <= scale.to)
    .sort((a, b) => a.x - b.x || a.i - b.i);
  for (const { mark, x } of inRange) {
    if (TIMELINE_MARK_STYLE[mark.kind].shape === 'tick') {
      placed.push({ mark, x, row: -1 });
      continue;
    }
    let row = rowEnd.findIndex((end) => x - end >= MARK_GAP);
    if (row < 0 && rowEnd.length < MARK_ROWS) row = rowEnd.length;
    if (row < 0) {
      const last = groups.at(-1);
      if (last !== undefined && x - last.x < MARK_GAP) last.marks.push(mark);
      else groups.push({ x, marks: [mark] });
      continue;
    }
    rowEnd[row] = x;
    placed.push({ mark, x, row });
  }
  return { placed, groups, rows: Math.max(1, rowEnd.length) + (groups.length > 0 ? 1 : 0) };
}

/** Where each legend entry goes: left to right from `y0`, wrapped to `width`. */
function legendLayout(width: number, y0: number): { kind: TimelineMarkKind; x: number; y: number }[] {
  const items: { kind: TimelineMarkKind; x: number; y: number }[] = [];
  let x = 6;
  let y = y0;
  for (const kind of Object.keys(TIMELINE_MARK_STYLE) as TimelineMarkKind[]) {
    const w = 24 + kind.length * 6.6;
    if (x + w > width - 6) {
      x = 6;
      y += 18;
    }
    items.push({ kind, x, y });
    x += w;
  }
  return items;
}

/**
 * Draws `model` as a standalone SVG document fragment (a string: usable in Node for static HTML reports
 * and in the browser). Every mark has a `<title>` (kind, label, instant, event id) for hover, and
 * `data-event-id` when an event is behind it. The root carries `data-from`, `data-to`, `data-x0` and
 * `data-x1`, the scale {@link mountTimeline} uses to scrub. Pure; never throws.
 */
export function timelineSvg(model: TimelineModel, options: TimelineSvgOptions = {}): string {
  const width = options.width ?? 960;
  const laneHeight = options.laneHeight ?? 34;
  const labelColumn = options.labelWidth ?? 190;
  // A lane's name and detail end before the column's rule, cut to fit (the lane's tooltip has them whole).
  const labelRoom = labelColumn - 12;
  const scale = timelineScale(model, options);
  const top = 22;
  const legend = options.legend ?? true;
  // Each lane is as tall as its stacked marks need (at least `laneHeight`).
  const layouts = model.lanes.map((lane) => layoutMarks(lane.marks, scale));
  const heights = layouts.map((l) => Math.max(laneHeight, l.rows * MARK_ROW + 14));
  const tops = heights.map((_, i) => top + heights.slice(0, i).reduce((a, b) => a + b, 0));
  const lanesHeight = heights.reduce((a, b) => a + b, 0);
  const legendItems = legend ? legendLayout(width, top + lanesHeight + 34) : [];
  const legendBottom = Math.max(0, ...legendItems.map((item) => item.y)) - (top + lanesHeight);
  // Room for the cursor's date under the lanes, and for every row of the legend (wrapped to the width).
  const height = top + lanesHeight + (legend ? legendBottom + 16 : 20);
  const out: string[] = [];
  out.push(
    `<svg xmlns="http://www.w3.org/2000/svg" class="satchel-timeline" role="img" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" data-from="${model.from}" data-to="${model.to}" data-x0="${scale.x0}" data-x1="${scale.x1}" font-family="system-ui, sans-serif" font-size="11">`,
    `<title>Timeline of account ${escapeXml(model.accountId)}, ${iso(model.from)} to ${iso(model.to)}</title>`,
  );
  // Axis: up to six ticks, dated as precisely as the range needs, no two labels overlapping.
  for (const tick of timelineAxis(model, options)) {
    out.push(
      `<line x1="${tick.x}" y1="${top - 4}" x2="${tick.x}" y2="${top + lanesHeight}" stroke="#d0d7de" stroke-width="1"/>`,
      `<text class="axis-label" x="${tick.left}" y="${top - 8}" text-anchor="start" fill="#57606a">${tick.text}</text>`,
    );
  }
  model.lanes.forEach((lane, i) => {
    const y = tops[i] ?? top;
    const h = heights[i] ?? laneHeight;
    const layout = layouts[i] ?? { placed: [], groups: [], rows: 1 };
    const mid = y + h / 2;
    const rowY = (row: number) => (row < 0 ? mid : mid + (row - (layout.rows - 1) / 2) * MARK_ROW);
    out.push(
      `<g class="lane lane-${lane.kind}" data-lane-id="${escapeXml(lane.id)}">`,
      `<title>${escapeXml(`${lane.label} — ${lane.detail}`)}</title>`,
      `<rect x="0" y="${y}" width="${width}" height="${h}" fill="${i % 2 === 0 ? '#f6f8fa' : '#ffffff'}"/>`,
      `<text class="lane-label" x="6" y="${mid - 2}" font-weight="600" fill="#1f2328">${escapeXml(fitLabel(lane.label, labelRoom))}</text>`,
      `<text class="lane-detail" x="6" y="${mid + 11}" fill="#57606a">${escapeXml(fitLabel(lane.detail, labelRoom))}</text>`,
    );
    for (const span of lane.spans) {
      const x = scale.x(span.from);
      const w = Math.max(1, scale.x(span.to) - x);
      const fill = span.kind === 'window' ? '#c297ff' : span.kind === 'registered' ? '#dbeafe' : '#9ecbff';
      const sh = span.kind === 'window' ? 6 : 10;
      out.push(
        `<rect x="${x}" y="${mid - sh / 2}" width="${w}" height="${sh}" rx="3" fill="${fill}" opacity="${span.open ? 0.55 : 0.9}"/>`,
      );
    }
    for (const { mark, x, row } of layout.placed) {
      const title = `${mark.label} — ${iso(mark.at)}${mark.eventId ? ` — event ${mark.eventId}` : ''}`;
      out.push(
        `<g class="mark mark-${mark.kind}"${mark.eventId ? ` data-event-id="${escapeXml(mark.eventId)}"` : ''} data-at="${mark.at}" data-row="${row}"><title>${escapeXml(title)}</title>${shape(mark.kind, x, rowY(row))}</g>`,
      );
    }
    for (const group of layout.groups) {
      const list = group.marks.map((m) => `${m.label} — ${iso(m.at)}`).join('\n');
      out.push(
        `<g class="mark-group" data-count="${group.marks.length}"><title>${escapeXml(list)}</title><text x="${group.x}" y="${rowY(layout.rows - 1) + 4}" text-anchor="middle" fill="#1f2328" font-weight="600">+${group.marks.length}</text></g>`,
      );
    }
    out.push('</g>');
  });
  out.push(
    `<line x1="${labelColumn}" y1="${top}" x2="${labelColumn}" y2="${top + lanesHeight}" stroke="#d0d7de"/>`,
  );
  for (const { kind, x, y } of legendItems) {
    out.push(
      `<g class="legend">${shape(kind, x + 5, y)}<text x="${x + 14}" y="${y + 4}" fill="#1f2328">${kind}</text></g>`,
    );
  }
  if (options.at !== undefined) {
    const x = scale.x(options.at);
    out.push(
      `<g class="cursor" data-at="${options.at}"><line x1="${x}" y1="${top - 4}" x2="${x}" y2="${top + lanesHeight}" stroke="#0969da" stroke-width="2"/><text x="${x > width - 200 ? x - 4 : x + 4}" y="${top + lanesHeight + 12}" text-anchor="${x > width - 200 ? 'end' : 'start'}" fill="#0969da" font-weight="600">${iso(options.at)}</text></g>`,
    );
  }
  out.push('</svg>');
  return out.join('');
}
