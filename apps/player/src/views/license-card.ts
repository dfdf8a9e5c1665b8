import { isHeldStatus, type LicenseState } from '@satchel/sdk';
import { play, remove, renew, stop, transfer } from '../actions/media.js';
import type { PlayerApp } from '../app.js';
import { actions, type CardContext, cardState, nextStepWords, stateLabel } from '../card-state.js';
import type { DeviceSession } from '../device.js';
import { h } from '../dom.js';
import { bindingExpiry, countdownWords } from '../helpers.js';
import { accountAllowances, type PanelState } from '../state.js';
import { day, EXPIRY_BOUND, endedWords, moment, playbackWords, position } from '../words.js';
import { timelineBlock } from './timeline.js';

/** A device's downloads: one card per licence, active ones first. */
export function downloadsBlock(app: PlayerApp, d: DeviceSession, view: PanelState): HTMLElement {
  const idx = d.config.index;
  const now = d.trustedNow();
  const sorted = [...view.licenses].sort(
    (a, b) => Number(isHeldStatus(b.status)) - Number(isHeldStatus(a.status)) || b.issuedAt - a.issuedAt,
  );
  const items = sorted.map((license) => licenseItem(app, d, license, now));
  return h(
    'section',
    { class: 'downloads', 'aria-labelledby': `device-${idx}-downloads-title` },
    h('h3', { id: `device-${idx}-downloads-title` }, 'My downloads'),
    items.length === 0
      ? h('p', { class: 'empty' }, 'Nothing downloaded on this device yet.')
      : h('ul', { class: 'licenses' }, ...items),
  );
}

export function licenseItem(
  app: PlayerApp,
  d: DeviceSession,
  license: LicenseState,
  now: number,
): HTMLElement {
  const idx = d.config.index;
  const name = app.titleName(license.titleId);
  const slug = `device-${idx}-license-${license.licenseId}`;
  const { state: device } = d;
  const playing = device.playing?.licenseId === license.licenseId;
  const progress = device.transfers[license.licenseId];
  const media = device.media[license.licenseId];
  const keyNotice = device.notices[`key:${license.licenseId}`];
  const state = cardState(license, {
    transfer: progress,
    stored: media !== undefined,
    playing,
    keyRefused: keyNotice !== undefined,
  });
  const ended = state.kind === 'ended';
  const decision = license.playback;
  const notice = device.notices[license.licenseId];
  const context = cardContext(app, d, license);
  const can = actions(state, context);
  const button = (
    key: string,
    label: string,
    text: string,
    a: { enabled: boolean; why: string | null },
    onclick: () => void,
    cls?: string,
  ) => {
    const whyId = `${slug}-${key}-why`;
    return [
      h(
        'button',
        {
          type: 'button',
          class: cls,
          id: `${slug}-${key}`,
          'aria-label': `${label} ${name}`,
          disabled: !a.enabled,
          'aria-describedby': a.why === null ? null : whyId,
          onclick,
        },
        text,
      ),
      a.why === null ? null : h('span', { class: 'why', id: whyId, 'data-test': `why-${key}` }, a.why),
    ];
  };
  const buttons: Array<HTMLElement | null> = [];
  if (state.kind === 'interrupted' || state.kind === 'key-refused') {
    buttons.push(
      ...button('resume', 'Resume downloading', 'Resume download', can.resume, () =>
        transfer(app, d, license.licenseId, name),
      ),
    );
  } else if (!ended && state.kind !== 'downloading') {
    buttons.push(
      ...(playing
        ? button('playback', 'Stop', 'Stop', { enabled: true, why: null }, () => stop(app, d, 'Stopped'))
        : button('playback', 'Play', 'Play', can.play, () => play(app, d, license))),
    );
  }
  if (!ended) {
    buttons.push(
      ...button('renew', 'Renew', 'Renew', can.renew, () => renew(app, d, license), 'secondary'),
      ...button('delete', 'Delete', 'Delete', can.remove, () => remove(app, d, license), 'danger'),
    );
  }
  const runtime = d.runtime(license.licenseId);
  const expiry = bindingExpiry(license);
  return h(
    'li',
    {
      class: `license ${ended ? 'ended' : 'active'}`,
      id: slug,
      'data-license-id': license.licenseId,
      'data-status': license.status,
      'data-state': state.kind,
      'aria-labelledby': `${slug}-name`,
    },
    h(
      'div',
      { class: 'license-head' },
      h('h4', { id: `${slug}-name` }, name),
      h(
        'span',
        { class: `badge state-${state.kind} status-${license.status}`, 'data-test': 'status' },
        stateLabel(state),
      ),
      license.pendingSync ? h('span', { class: 'badge pending' }, 'Waiting to sync') : null,
    ),
    ended
      ? h('p', { class: 'ended-reason' }, endedWords(license) ?? '')
      : state.kind === 'time-up'
        ? null
        : h(
            'p',
            { class: 'expiry' },
            'Expires ',
            h('strong', {}, moment(expiry.at, now)),
            ` (${EXPIRY_BOUND[expiry.reason] ?? expiry.reason}) · `,
            h(
              'span',
              { 'data-until': expiry.at, 'data-key': license.licenseId, class: 'countdown' },
              countdownWords(expiry.at - now),
            ),
          ),
    progress === undefined
      ? null
      : h(
          'div',
          { class: 'progress-row' },
          h('label', { for: `${slug}-transfer` }, 'Download progress'),
          h('progress', { id: `${slug}-transfer`, max: 100, value: Math.round(progress * 100) }),
          h('span', { 'data-transfer': license.licenseId }, `${Math.round(progress * 100)} %`),
        ),
    license.status === 'downloaded' && !playing
      ? h(
          'p',
          {
            class: `decision ${decision.allowed ? 'ok' : 'bad'}`,
            id: `${slug}-decision`,
            'data-test': 'decision',
          },
          decision.allowed ? 'Offline decision: ' : 'Cannot play: ',
          playbackWords(decision, license, now),
          state.kind === 'time-up' ? ` ${nextStepWords(context)}` : '',
        )
      : null,
    !ended && media !== undefined
      ? h(
          'p',
          { class: 'stored', 'data-test': 'stored' },
          `Stored on this device: ${Math.round(media.bytes / 1024)} KB, ${position(media.durationMs)}`,
        )
      : null,
    playing
      ? h(
          'div',
          { class: 'screen' },
          d.video,
          h(
            'div',
            { class: 'progress-row playing' },
            h('label', { for: `${slug}-position` }, 'Playing'),
            h('progress', {
              id: `${slug}-position`,
              max: runtime,
              value: Math.round(d.position()),
              'data-position': idx,
            }),
            h('span', { 'data-position-text': idx }, `${position(d.position())} / ${position(runtime)}`),
          ),
        )
      : license.lastPositionMs !== null && !ended
        ? h(
            'p',
            { class: 'resume-at' },
            `Stopped at ${position(license.lastPositionMs)} of ${position(runtime)}`,
          )
        : null,
    ...[keyNotice, notice].map((text) =>
      text === undefined
        ? null
        : h('p', { class: 'notice bad', role: 'alert', 'data-test': 'refusal' }, text),
    ),
    buttons.length === 0 ? null : h('div', { class: 'buttons' }, ...buttons),
    timelineBlock(app, d, license),
  );
}

/** What else decides a card's actions: the network, the renewals left, the account's allowance, the title. */
function cardContext(app: PlayerApp, d: DeviceSession, license: LicenseState): CardContext {
  const allowance = accountAllowances(
    app.devices.map((x) => x.view),
    d.view?.accountId ?? null,
  ).find((a) => a.titleId === license.titleId);
  const title = app.page.catalogue.find((t) => t.titleId === license.titleId);
  const until = title?.policy.availableUntil ?? license.policy.availableUntil;
  const now = d.now();
  return {
    online: d.online && (d.view?.status.online ?? true),
    renewalsLeft:
      license.policy.maxRenewals === null ? null : Math.max(0, license.policy.maxRenewals - license.renewals),
    downloadsLeft: allowance?.remaining ?? null,
    nextDownloadOn:
      allowance?.nextAvailableAt === null || allowance === undefined
        ? null
        : day(allowance.nextAvailableAt, now),
    titleAvailable:
      title !== undefined || app.page.catalogue.length === 0 ? until === null || until > now : false,
  };
}
