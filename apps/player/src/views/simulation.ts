import { moveClock, toggleNetwork } from '../actions/device.js';
import type { PlayerApp } from '../app.js';
import type { DeviceSession } from '../device.js';
import { h } from '../dom.js';
import { CLOCK_STEPS, offsetWords } from '../helpers.js';
import { moment } from '../words.js';

export function simBlock(app: PlayerApp, d: DeviceSession): HTMLElement {
  const idx = d.config.index;
  const offset = d.sim.clockOffsetMs;
  return h(
    'section',
    { class: 'sim', 'aria-labelledby': `device-${idx}-sim-title` },
    h('h3', { id: `device-${idx}-sim-title` }, 'Simulation'),
    h(
      'div',
      { class: 'sim-row' },
      h(
        'button',
        {
          type: 'button',
          id: `device-${idx}-network`,
          class: `switch ${d.sim.networkOff ? 'off' : 'on'}`,
          'aria-pressed': String(!d.sim.networkOff),
          onclick: () => void toggleNetwork(app, d),
        },
        `Network ${d.sim.networkOff ? 'off' : 'on'}`,
      ),
    ),
    h(
      'div',
      { class: 'sim-row', role: 'group', 'aria-labelledby': `device-${idx}-clock-label` },
      h(
        'p',
        { class: 'clock', id: `device-${idx}-clock-label` },
        'Device clock: ',
        h('output', { id: `device-${idx}-clock`, 'data-clock': idx }, moment(d.now(), d.now())),
        offset === 0 ? ' (real time)' : ` (${offset > 0 ? '+' : '−'}${offsetWords(offset)})`,
      ),
      Math.abs(d.state.trustedSkewMs) > 5000 || offset !== 0
        ? h(
            'p',
            { class: 'clock trusted', 'data-test': 'clock-explained' },
            'The server keeps real time. The SDK’s secure clock now trusts ',
            h('output', { 'data-trusted': idx }, moment(d.trustedNow(), d.now())),
            Math.abs(d.state.trustedSkewMs) > 5000
              ? ', not the device clock: it never goes back, and the next sync sets it to the server’s time.'
              : ', the device clock.',
          )
        : null,
      h(
        'div',
        { class: 'buttons' },
        ...CLOCK_STEPS.map((step) =>
          h(
            'button',
            {
              type: 'button',
              class: 'small',
              id: `device-${idx}-clock-${step.ms}`,
              'aria-label': `${step.label}: ${step.name.toLowerCase()}`,
              title: step.name,
              onclick: () => void moveClock(app, d, step.ms),
            },
            step.label,
          ),
        ),
        h(
          'button',
          {
            type: 'button',
            class: 'small',
            id: `device-${idx}-clock-reset`,
            disabled: offset === 0,
            onclick: () => void moveClock(app, d, -offset),
          },
          'Real time',
        ),
      ),
    ),
  );
}
