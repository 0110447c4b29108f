/**
 * Whether a store error is transient — the database restarted, a connection was terminated or
 * reset, a lock or serialization conflict — so the work that hit it should be retried rather
 * than counted as a failure of what it was doing (an instance's upgrade, say).
 */
const TRANSIENT_PG_CODES = new Set([
  '57P01', // admin_shutdown (pg_terminate_backend, restart)
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '53300', // too_many_connections
  '40001', // serialization_failure
  '40P01', // deadlock_detected
])
const TRANSIENT_NODE_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'EPIPE',
  'ETIMEDOUT',
  'SQLITE_BUSY',
])

export function isTransientStoreError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null
  if (!e || typeof e !== 'object') return false
  const code = typeof e.code === 'string' ? e.code : ''
  if (code.startsWith('08') && code.length === 5) return true // connection_exception class
  if (TRANSIENT_PG_CODES.has(code) || TRANSIENT_NODE_CODES.has(code)) return true
  const message = typeof e.message === 'string' ? e.message : ''
  return /Connection terminated|connection timeout|Query read timeout/i.test(message)
}
