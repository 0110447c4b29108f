/**
 * The allow-list of hosts health gates and lifecycle hooks may call (`--outbound-hosts`,
 * docs/security.md § Outbound calls): patterns `host`, `host:port`, `*.domain` (any name under
 * it, not the domain itself) and `[IPv6]`, `[IPv6]:port`; a pattern without a port allows any.
 * No list (null) allows every host, as before the option. Pure: the config parses the list, the
 * gates' and hooks' PUT refuse a URL it does not allow.
 */

const PATTERN =
  /^(?:(\*\.)?[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::(\d{1,5}))?$/

/**
 * The patterns of a comma-separated list, lower-cased, or the first that is not one.
 * @example 'prom.internal:9090, *.hooks.example' → { ok: true, patterns: ['prom.internal:9090', '*.hooks.example'] }
 */
export function parseOutboundHosts(
  text: string,
): { ok: true; patterns: string[] } | { ok: false; bad: string } {
  const patterns = text
    .split(',')
    .map((p) => p.trim().toLowerCase())
    .filter((p) => p !== '')
  for (const p of patterns) {
    const m = PATTERN.exec(p)
    if (!m || (m[2] !== undefined && (Number(m[2]) < 1 || Number(m[2]) > 65535)))
      return { ok: false, bad: p }
  }
  return { ok: true, patterns }
}

/**
 * Whether `url` (an http or https URL) names a host the list allows; its port is the URL's, or
 * 80/443 by its scheme.
 * @example ('https://prom.internal/api', ['prom.internal:443']) → true; (…, ['*.internal']) → true;
 *   ('http://127.0.0.1:9090/', ['prom.internal']) → false; (any, null) → true
 */
export function outboundAllowed(url: string, patterns: readonly string[] | null): boolean {
  if (patterns === null) return true
  const u = new URL(url)
  const host = u.hostname.toLowerCase()
  const port = u.port !== '' ? u.port : u.protocol === 'https:' ? '443' : '80'
  return patterns.some((p) => {
    const m = PATTERN.exec(p)
    if (!m) return false
    const name = m[2] === undefined ? p : p.slice(0, p.length - m[2].length - 1)
    if (m[2] !== undefined && m[2] !== port) return false
    if (m[1]) return host.endsWith(name.slice(1)) && host.length > name.length - 1
    return host === name
  })
}

/**
 * Why the list refuses `url` for the member `field`, or null when it allows it.
 * @example ('http://10.0.0.5:9090', ['prom.internal'], 'serverUrl') → "serverUrl http://10.0.0.5:9090
 *   calls 10.0.0.5:9090, which is not in this server's allow-list …"
 */
export function outboundRefusal(
  url: string,
  patterns: readonly string[] | null,
  field: string,
): string | null {
  if (patterns === null || outboundAllowed(url, patterns)) return null
  const u = new URL(url)
  const port = u.port !== '' ? u.port : u.protocol === 'https:' ? '443' : '80'
  return `${field} ${url} calls ${u.hostname}:${port}, which is not in this server's allow-list of outbound hosts (--outbound-hosts ${patterns.join(',')}): aim it at an allowed host, or ask the operator to add this one.`
}
