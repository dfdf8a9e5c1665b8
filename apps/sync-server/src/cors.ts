/** Which browser origins may call the sync API: any (`*`, development only) or exactly these. */
export type CorsOrigins = '*' | readonly string[];

const ORIGIN = /^([a-z][a-z0-9+.-]*):\/\/([^/?#\s@]+)$/i;

/**
 * Reads `SATCHEL_CORS_ORIGINS`: the origins whose pages may call the sync API, separated by commas or
 * spaces — `https://player.example.com`, `app://satchel` for an Electron app's custom scheme. Each is
 * a scheme and a host (and port), nothing after it; the scheme and host are lowercased, a trailing `/`
 * is dropped. `*` allows every origin and is accepted only in development. Unset (or empty): `*` in
 * development; in production no origin, so only pages the server serves itself (same origin) may call.
 * Throws with a readable message on an origin that is not one, or on `*` in production.
 */
export function readCorsOrigins(value: string | undefined, production: boolean): CorsOrigins {
  const entries = (value ?? '')
    .split(/[\s,]+/)
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
  if (entries.length === 0) return production ? [] : '*';
  if (entries.includes('*')) {
    if (production) {
      throw new Error(
        "SATCHEL_CORS_ORIGINS=* is refused in production: list the players' origins (e.g. https://player.example.com,app://satchel).",
      );
    }
    if (entries.length > 1) throw new Error('SATCHEL_CORS_ORIGINS: `*` cannot be combined with origins');
    return '*';
  }
  const origins = entries.map((entry) => {
    const match = ORIGIN.exec(entry.replace(/\/$/, ''));
    if (match === null) {
      throw new Error(
        `SATCHEL_CORS_ORIGINS: ${JSON.stringify(entry)} is not an origin (scheme://host[:port], no path)`,
      );
    }
    return `${match[1]?.toLowerCase()}://${match[2]?.toLowerCase()}`;
  });
  return [...new Set(origins)];
}
