import type { TimelineModel } from './model.js';
import { type TimelineSvgOptions, timelineScale, timelineSvg } from './svg.js';

/** Options of {@link mountTimeline}. */
export interface MountOptions extends Omit<TimelineSvgOptions, 'at'> {
  /** The instant the cursor starts at (default: the model's end). */
  readonly at?: number;
  /** Called with the new instant whenever the member scrubs (pointer drag, click, arrow keys, Home/End). */
  readonly onScrub?: (at: number) => void;
}

/** A mounted timeline. */
export interface MountedTimeline {
  /** The scrubbed instant. */
  readonly at: number;
  /** Moves the cursor (clamped to the model's range) without calling `onScrub`. */
  setAt(at: number): void;
  /** Replaces the model (e.g. after a change), keeping the cursor. */
  update(model: TimelineModel): void;
  /** Removes the drawing and its listeners. */
  destroy(): void;
}

/**
 * Draws `model` into `container` and makes it scrubbable: a click or drag on the drawing moves the
 * cursor to that instant; with the focus on it (it is a `role="slider"`), ←/→ move by 1/200 of the
 * range (with Shift, 1/20), Home/End jump to the ends. Each move redraws the cursor and calls
 * `onScrub`. Browser only (uses the DOM); framework-free.
 */
export function mountTimeline(
  container: HTMLElement,
  model: TimelineModel,
  options: MountOptions = {},
): MountedTimeline {
  let current = model;
  let at = clamp(options.at ?? model.to, model);
  const host = container.ownerDocument.createElement('div');
  host.className = 'satchel-timeline-host';
  host.tabIndex = 0;
  host.setAttribute('role', 'slider');
  host.setAttribute('aria-label', 'Timeline instant');
  host.style.cursor = 'col-resize';
  host.style.overflowX = 'auto';
  container.replaceChildren(host);

  function draw() {
    host.innerHTML = timelineSvg(current, { ...options, at });
    host.setAttribute('aria-valuemin', String(current.from));
    host.setAttribute('aria-valuemax', String(current.to));
    host.setAttribute('aria-valuenow', String(at));
    host.setAttribute('aria-valuetext', new Date(at).toISOString());
  }
  function move(next: number) {
    const clamped = clamp(next, current);
    if (clamped === at) return;
    at = clamped;
    draw();
    options.onScrub?.(at);
  }
  const fromPointer = (event: PointerEvent) => {
    const svg = host.querySelector('svg');
    if (svg === null) return;
    const box = svg.getBoundingClientRect();
    const width = Number(svg.getAttribute('width')) || box.width;
    const x = ((event.clientX - box.left) / box.width) * width;
    move(timelineScale(current, options).at(x));
  };
  let dragging = false;
  const down = (event: PointerEvent) => {
    dragging = true;
    host.setPointerCapture?.(event.pointerId);
    fromPointer(event);
  };
  const drag = (event: PointerEvent) => {
    if (dragging) fromPointer(event);
  };
  const up = () => {
    dragging = false;
  };
  const key = (event: KeyboardEvent) => {
    const step = (current.to - current.from) / (event.shiftKey ? 20 : 200);
    const next =
      event.key === 'ArrowRight'
        ? at + step
        : event.key === 'ArrowLeft'
          ? at - step
          : event.key === 'Home'
            ? current.from
            : event.key === 'End'
              ? current.to
              : null;
    if (next === null) return;
    event.preventDefault();
    move(Math.round(next));
  };
  host.addEventListener('pointerdown', down);
  host.addEventListener('pointermove', drag);
  host.addEventListener('pointerup', up);
  host.addEventListener('pointercancel', up);
  host.addEventListener('keydown', key);
  draw();
  return {
    get at() {
      return at;
    },
    setAt(next) {
      at = clamp(next, current);
      draw();
    },
    update(next) {
      current = next;
      at = clamp(at, current);
      draw();
    },
    destroy() {
      host.removeEventListener('pointerdown', down);
      host.removeEventListener('pointermove', drag);
      host.removeEventListener('pointerup', up);
      host.removeEventListener('pointercancel', up);
      host.removeEventListener('keydown', key);
      host.remove();
    },
  };
}

function clamp(at: number, model: TimelineModel): number {
  return Math.min(Math.max(at, model.from), model.to);
}
