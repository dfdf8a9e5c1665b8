import type { CatalogueTitle } from './api.js';
import type { LogEntry } from './persist.js';

/** What the page shows beside its devices, in one immutable value changed only by {@link pageReducer}. */
export interface PageState {
  /** The catalogue as last read (or cached). */
  catalogue: readonly CatalogueTitle[];
  /** Why the catalogue shown is not fresh (offline, no route…), or null. */
  catalogueNote: string | null;
  /** The demo account's token a development server hands out (one-click enrolment): undefined until asked. */
  devEnrolment: string | null | undefined;
  /** The account's enrolment token, kept to register more devices and to deactivate devices. */
  enrolmentToken: string | null;
  /** The decision log, newest first (at most {@link LOG_LIMIT}). */
  entries: readonly LogEntry[];
}

export const LOG_LIMIT = 200;

export type PageAction =
  | { type: 'catalogue'; titles: readonly CatalogueTitle[]; note: string | null }
  | { type: 'catalogue-note'; note: string | null }
  | { type: 'dev-enrolment'; token: string | null }
  | { type: 'enrolment'; token: string | null }
  | { type: 'log-loaded'; entries: readonly LogEntry[] }
  | { type: 'logged'; entry: LogEntry }
  | { type: 'log-cleared' };

export function initialPageState(
  enrolmentToken: string | null,
  catalogue: readonly CatalogueTitle[],
): PageState {
  return { catalogue, catalogueNote: null, devEnrolment: undefined, enrolmentToken, entries: [] };
}

/** The page's next state. Pure. */
export function pageReducer(state: PageState, action: PageAction): PageState {
  switch (action.type) {
    case 'catalogue':
      return { ...state, catalogue: action.titles, catalogueNote: action.note };
    case 'catalogue-note':
      return { ...state, catalogueNote: action.note };
    case 'dev-enrolment':
      return { ...state, devEnrolment: action.token };
    case 'enrolment':
      return { ...state, enrolmentToken: action.token };
    case 'log-loaded':
      return { ...state, entries: action.entries.slice(0, LOG_LIMIT) };
    case 'logged':
      return { ...state, entries: [action.entry, ...state.entries].slice(0, LOG_LIMIT) };
    case 'log-cleared':
      return { ...state, entries: [] };
  }
}
