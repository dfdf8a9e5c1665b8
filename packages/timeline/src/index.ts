export {
  buildTimeline,
  TIMELINE_MARK_KINDS,
  type TimelineLane,
  type TimelineMark,
  type TimelineMarkKind,
  type TimelineModel,
  type TimelineOptions,
  type TimelineSpan,
} from './model.js';
export { type MountedTimeline, type MountOptions, mountTimeline } from './mount.js';
export {
  layoutMarks,
  MARK_GAP,
  MARK_ROW,
  MARK_ROWS,
  type MarkGroup,
  type MarkLayout,
  type PlacedMark,
  TIMELINE_MARK_STYLE,
  type TimelineScale,
  type TimelineSvgOptions,
  timelineScale,
  timelineSvg,
} from './svg.js';
