/**
 * How instances built from a `sim:` image behave (docs/architecture.md § The sim fabric):
 * `sim:?boot=2&health=flaky:0.3&extfail=x`.
 * `boot` is seconds to start (default 1); `health` is `healthy` | `unhealthy` | `flaky:P` (the
 * probability that a disk never becomes healthy); `extfail` names an extension that fails.
 */
import { Errors } from '../../errors.js'
import type { SimBehaviour, SimHealth } from '../types/sim-state.js'

/**
 * @example parseSimUri('sim:?boot=2&health=flaky:0.25') → { bootMs: 2000, health: { kind: 'flaky', p: 0.25 }, extfail: null }
 */
export function parseSimUri(uri: string): SimBehaviour {
  if (!uri.startsWith('sim:'))
    throw Errors.InvalidParameter(`'${uri}' is not a sim: image URI.`, 'source.uri')
  const query = uri.includes('?') ? uri.slice(uri.indexOf('?') + 1) : ''
  const params = new URLSearchParams(query)
  for (const key of params.keys()) {
    if (!['boot', 'health', 'extfail'].includes(key)) {
      throw Errors.InvalidParameter(
        `Unknown sim: image parameter '${key}'; use boot, health or extfail.`,
        'source.uri',
      )
    }
  }
  const boot = Number(params.get('boot') ?? '1')
  if (!Number.isFinite(boot) || boot < 0 || boot > 3600) {
    throw Errors.InvalidParameter(
      `sim: boot must be seconds between 0 and 3600, not '${params.get('boot')}'.`,
      'source.uri',
    )
  }
  return {
    bootMs: Math.round(boot * 1000),
    health: parseHealth(params.get('health') ?? 'healthy'),
    extfail: params.get('extfail'),
  }
}

function parseHealth(text: string): SimHealth {
  if (text === 'healthy' || text === 'unhealthy') return { kind: text }
  const m = /^flaky:(0(?:\.\d+)?|1(?:\.0+)?)$/.exec(text)
  if (m) return { kind: 'flaky', p: Number(m[1]) }
  throw Errors.InvalidParameter(
    `sim: health must be healthy, unhealthy or flaky:P with P in [0,1], not '${text}'.`,
    'source.uri',
  )
}

/**
 * Deterministic per-disk coin: a flaky disk is bad when hash(seed, serial) < p.
 * @example diskIsBad({ kind: 'flaky', p: 0 }, 'x', 1) === false
 */
export function diskIsBad(health: SimHealth, serial: string, seed: number): boolean {
  switch (health.kind) {
    case 'healthy':
      return false
    case 'unhealthy':
      return true
    case 'flaky':
      return hash01(`${seed}|${serial}`) < health.p
  }
}

function hash01(text: string): number {
  let h = 0x811c9dc5
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0
  return h / 0x1_0000_0000
}
