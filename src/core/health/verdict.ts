/**
 * What "healthy" means to the engine (docs/rollouts.md R5): running, every extension provisioned
 * (failures
 * with `suppressFailures` are reported as succeeded by the fabric), and the health source agrees.
 * `initializing` is neither healthy nor unhealthy: the thresholds of §4.3 ignore it.
 */

export type HealthState = 'healthy' | 'unhealthy' | 'unknown' | 'initializing'
export type PowerState = 'running' | 'stopped' | 'starting' | 'stopping' | 'deallocated'
export type ProvisioningState = 'creating' | 'updating' | 'succeeded' | 'failed' | 'deleting'
export type Verdict = 'healthy' | 'unhealthy' | 'initializing'

export type HealthInputs = Readonly<{
  power: PowerState
  provisioning: ProvisioningState
  /** The health source's state; a set with no health source reports `healthy` when running. */
  health: HealthState
}>

/**
 * One instance's verdict.
 * @example verdict({ power: 'running', provisioning: 'succeeded', health: 'unknown' }) === 'unhealthy'
 * @example verdict({ power: 'starting', provisioning: 'updating', health: 'unknown' }) === 'initializing'
 */
export function verdict(i: HealthInputs): Verdict {
  if (i.provisioning === 'failed') return 'unhealthy'
  if (i.provisioning === 'creating' || i.provisioning === 'updating') return 'initializing'
  if (i.provisioning === 'deleting') return 'unhealthy'
  if (i.power === 'starting') return 'initializing'
  if (i.power !== 'running') return 'unhealthy'
  switch (i.health) {
    case 'healthy':
      return 'healthy'
    case 'initializing':
      return 'initializing'
    case 'unhealthy':
    case 'unknown':
      return 'unhealthy'
  }
}
