/**
 * What the composition root reads from the config and the data dir before it wires anything:
 * the admin token (made at first start), the HTTPS material, and the rollout timing profile.
 */
import { chmodSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Config } from '../config/config.js'
import type { SqlStore } from '../store/sql/sql-store.js'
import { AZURE_TIMING, PROMPT_TIMING } from '../core/rollout/start.js'
import type { TimingProfile } from '../core/rollout/start.js'
import { DEFAULTS } from '../config/defaults.js'
import { OPERATOR, createToken, hashToken } from '../services/tokens.js'
import { ensureSelfSignedTls } from '../tls/self-signed.js'
import { assertPrivateFile } from '../config/data-dir.js'

/** The HTTPS key and certificate, or null for plain HTTP; a group/other-readable key is refused. */
export function tlsMaterial(config: Config): { cert: Buffer; key: Buffer } | null {
  if (config.tls.kind === 'self-signed') return selfSigned(config)
  if (config.tls.kind === 'none') return null
  assertPrivateFile(config.tls.keyFile, '--tls-key')
  return { cert: readFileSync(config.tls.certFile), key: readFileSync(config.tls.keyFile) }
}

function selfSigned(config: Config): { cert: Buffer; key: Buffer } {
  const extra = ['127.0.0.1', '0.0.0.0', 'localhost'].includes(config.host) ? [] : [config.host]
  const { cert, key } = ensureSelfSignedTls(config.dataDir, ['localhost', '127.0.0.1', ...extra])
  return { cert, key }
}

/** The rollout timing of `--timing`: Azure's, or prompt with `--prompt-jitter` as its jitter. */
export function timingOf(config: Config): TimingProfile {
  if (config.timing === 'azure') return AZURE_TIMING
  return {
    ...PROMPT_TIMING,
    firstDelayMaxMs: config.promptJitterMs,
    laterDelayMaxMs: config.promptJitterMs,
    retryDelayMs: DEFAULTS.promptRetryDelayMs,
  }
}

/** The data dir's admin token (mode 0600), created on first start; an Operator (above subscriptions). */
export async function ensureAdminToken(
  store: SqlStore,
  dataDir: string,
  nowMs: number,
): Promise<string> {
  const file = join(dataDir, 'token')
  if (existsSync(file)) {
    const token = readFileSync(file, 'utf8').trim()
    // A data dir from before the Operator role holds an Owner admin token: it becomes one.
    if ((await store.getToken(hashToken(token)))?.role !== OPERATOR) {
      await store.putToken({
        hash: hashToken(token),
        role: OPERATOR,
        subscriptions: [],
        label: 'admin',
        createdAtMs: nowMs,
      })
    }
    return token
  }
  const token = await createToken(store, {
    role: OPERATOR,
    subscriptions: [],
    label: 'admin',
    nowMs,
  })
  writeFileSync(file, token + '\n', { mode: 0o600 })
  chmodSync(file, 0o600)
  return token
}
