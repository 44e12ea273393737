/**
 * Origin check of WebSocket upgrades (cross-site WebSocket hijacking). Browsers always send
 * Origin; other clients may omit it and are allowed, since they cannot carry a victim's cookie.
 * With no allow-list configured, only the same origin as the Host header is allowed.
 */
export function originAllowed(origin: string | undefined, host: string | undefined, allowList: string[]): boolean {
  if (origin === undefined) return true;
  if (allowList.includes('*')) return true;
  if (allowList.length > 0) return allowList.includes(origin.replace(/\/$/, ''));
  if (host === undefined) return false;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}
