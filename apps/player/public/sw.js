// The player's offline shell: the page and its assets are served from the cache when the network is
// gone, so a reload offline still opens the player (its data lives in IndexedDB). API calls are never
// cached: the SDK decides offline from its own store.
const CACHE = 'satchel-player-shell-v1';

async function cacheShell() {
  const cache = await caches.open(CACHE);
  const response = await fetch('./', { cache: 'no-store' });
  if (!response.ok) return;
  const html = await response.clone().text();
  await cache.put('./', response);
  const assets = [...html.matchAll(/(?:src|href)="([^"]*assets\/[^"]+)"/g)].map((m) => m[1]);
  await cache.addAll(assets);
}

self.addEventListener('install', (event) => {
  event.waitUntil(cacheShell().then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(
    (async () => {
      for (const key of await caches.keys()) if (key !== CACHE) await caches.delete(key);
      await self.clients.claim();
    })(),
  );
});

self.addEventListener('fetch', (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (/^\/(v1|healthz|readyz|metrics|openapi\.json)(\/|$)/.test(url.pathname)) return;
  if (request.mode === 'navigate') {
    event.respondWith(
      (async () => {
        try {
          const response = await fetch(request);
          if (response.ok) await (await caches.open(CACHE)).put('./', response.clone());
          return response;
        } catch (error) {
          const cached = await caches.match('./');
          if (cached) return cached;
          throw error;
        }
      })(),
    );
    return;
  }
  event.respondWith(
    (async () => {
      const cached = await caches.match(request);
      if (cached) return cached;
      const response = await fetch(request);
      if (response.ok && url.pathname.includes('/assets/'))
        await (await caches.open(CACHE)).put(request, response.clone());
      return response;
    })(),
  );
});
