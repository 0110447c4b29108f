/**
 * The health an instance reports as `vmHealth` (docs/rollouts.md R5.2): with the Application
 * Health extension as the health source, the health is what that extension reports from inside
 * the instance, so there is none before the extension is provisioned and has probed — the
 * instance reads `Initializing`, not the prober's early verdict.
 */
import type { HealthSource } from '../scale-set/spec.js'
import type { HealthState } from './verdict.js'

/** Publisher and type, lower-cased, of the Application Health extension's handlers. */
const HEALTH_EXTENSION_HANDLERS: ReadonlySet<string> = new Set([
  'microsoft.managedservices.applicationhealthlinux',
  'microsoft.managedservices.applicationhealthwindows',
])

/**
 * Whether an extension of the model is the Application Health extension.
 * @example isHealthExtensionHandler('Microsoft.ManagedServices', 'ApplicationHealthLinux') === true
 */
export function isHealthExtensionHandler(publisher: string, type: string): boolean {
  return HEALTH_EXTENSION_HANDLERS.has(`${publisher}.${type}`.toLowerCase())
}

/**
 * `vmHealth` of one instance: the health source's state, except that the Application Health
 * extension has not reported while it is not provisioned on the instance (still running, failed,
 * or not there at all).
 * @example reportedHealth({ source: 'extension', health: 'healthy', healthExtension: 'transitioning' }) === 'initializing'
 * @example reportedHealth({ source: 'probe', health: 'healthy', healthExtension: null }) === 'healthy'
 */
export function reportedHealth(o: {
  source: HealthSource
  health: HealthState
  /** The provisioning state of the instance's Application Health extension, if it has one. */
  healthExtension: 'succeeded' | 'failed' | 'transitioning' | null
}): HealthState {
  if (o.source !== 'extension') return o.health
  return o.healthExtension === 'succeeded' ? o.health : 'initializing'
}
