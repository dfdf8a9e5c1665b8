type Child = Node | string | number | null | undefined | false;
type Attrs = Record<string, string | number | boolean | null | undefined | EventListener>;

/**
 * Creates an element: `on*` attributes become listeners, `true` sets a boolean attribute, `false`,
 * `null` and `undefined` leave it out. Children that are falsy (but not 0) are skipped.
 */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Array<Child | Child[]>
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (typeof value === 'function') el.addEventListener(name.slice(2).toLowerCase(), value);
    else if (value === true) el.setAttribute(name, '');
    else el.setAttribute(name, String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === 'number' ? String(child) : child);
  }
  return el;
}

/**
 * Replaces `target`'s children, keeping keyboard focus so that a re-render never throws a keyboard user
 * back to the top of the page: the focused element is found again by its id, or else its nearest
 * ancestor with an id that still exists (a card whose button went away). A focused text field keeps its
 * value and caret.
 */
export function patch(target: Element, ...children: Array<Node | string | null | undefined | false>): void {
  const active = document.activeElement;
  const ids: string[] = [];
  if (active instanceof HTMLElement && target.contains(active)) {
    for (let el: HTMLElement | null = active; el !== null && el !== target; el = el.parentElement) {
      if (el.id !== '') ids.push(el.id);
    }
  }
  const caret =
    active instanceof HTMLInputElement
      ? { start: active.selectionStart, end: active.selectionEnd, value: active.value }
      : null;
  target.replaceChildren(
    ...children.filter((c): c is Node | string => c !== null && c !== undefined && c !== false),
  );
  for (const [i, id] of ids.entries()) {
    const again = document.getElementById(id);
    if (!(again instanceof HTMLElement)) continue;
    if (i === 0 && again instanceof HTMLInputElement && caret !== null) {
      again.value = caret.value;
      again.setSelectionRange(caret.start, caret.end);
    }
    if (i > 0 && !again.hasAttribute('tabindex')) again.tabIndex = -1;
    again.focus({ preventScroll: true });
    return;
  }
}
