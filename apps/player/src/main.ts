import { PlayerApp } from './app.js';
import { DecisionLog } from './persist.js';
import './styles.css';

const params = new URLSearchParams(location.search);
const hash = new URLSearchParams(location.hash.slice(1));
const server = params.get('server');
const enrol = hash.get('enrol') ?? params.get('enrol');
if (enrol !== null) {
  // The token is kept by the page (settings); it should not linger in the address bar or the history.
  const url = new URL(location.href);
  url.searchParams.delete('enrol');
  url.hash = '';
  history.replaceState(null, '', url.href);
}

const root = document.getElementById('app');
if (root === null) throw new Error('The page has no #app element');

const app = new PlayerApp(
  root,
  {
    baseUrl: new URL(server ?? '/', location.href).href,
    enrolmentToken: enrol,
    onlyDevice: /^[1-9]\d{0,2}$/.test(params.get('device') ?? '') ? Number(params.get('device')) : null,
  },
  new DecisionLog(),
);
void app.start();

// Built pages work offline after the first visit: the shell is cached by a service worker (not under
// Vite's dev server, whose modules change on every edit).
if (import.meta.hot === undefined && 'serviceWorker' in navigator) {
  navigator.serviceWorker.register(new URL('sw.js', document.baseURI)).catch(() => undefined);
}
