/**
 * A fresh device secret: 32 bytes from the platform's CSPRNG (`crypto.getRandomValues`), base64url
 * without padding (43 characters). Generated once, at the first registration, and stored with the
 * device's identity; the server keeps only its hash and asks for it whenever this device id registers
 * again (a retry, a lost token, coming back after deactivation). Never throws where Web Crypto exists.
 */
export function newDeviceSecret(): string {
  const bytes = new Uint8Array(32);
  globalThis.crypto.getRandomValues(bytes);
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}
