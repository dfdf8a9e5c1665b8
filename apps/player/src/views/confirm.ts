import { h } from '../dom.js';

/**
 * Asks before an action that cannot be undone, in a modal `<dialog>` (focus moves into it, Escape
 * cancels). Resolves with whether the person confirmed.
 */
export function confirmAction(question: string, detail: string, confirmLabel: string): Promise<boolean> {
  return new Promise((resolve) => {
    const dialog = h('dialog', { class: 'confirm', 'aria-labelledby': 'confirm-title' });
    const close = (yes: boolean) => {
      dialog.close();
      dialog.remove();
      resolve(yes);
    };
    dialog.append(
      h('h2', { id: 'confirm-title' }, question),
      h('p', {}, detail),
      h(
        'div',
        { class: 'buttons' },
        h('button', { type: 'button', class: 'secondary', onclick: () => close(false) }, 'Cancel'),
        h('button', { type: 'button', class: 'danger', onclick: () => close(true) }, confirmLabel),
      ),
    );
    dialog.addEventListener('cancel', (event) => {
      event.preventDefault();
      close(false);
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}
