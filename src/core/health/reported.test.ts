/**
 * docs/rollouts.md R5.2 over `reportedHealth` (issue 18, seed gap 8): `vmHealth` does not read
 * healthy before the Application Health extension has reported.
 */
import { describe, expect, it } from 'vitest'
import { isHealthExtensionHandler, reportedHealth } from './reported.js'

describe('vmHealth before the Application Health extension reports', () => {
  it.each([
    ['transitioning', 'initializing'],
    ['failed', 'initializing'],
    [null, 'initializing'],
    ['succeeded', 'healthy'],
  ] as const)('extension %s, prober healthy → %s', (healthExtension, expected) => {
    expect(reportedHealth({ source: 'extension', health: 'healthy', healthExtension })).toBe(
      expected,
    )
  })

  it('a load-balancer probe reports on its own: no extension is waited for', () => {
    expect(reportedHealth({ source: 'probe', health: 'healthy', healthExtension: null })).toBe(
      'healthy',
    )
  })

  it('knows the extension by publisher and type, without case', () => {
    expect(isHealthExtensionHandler('Microsoft.ManagedServices', 'ApplicationHealthWindows')).toBe(
      true,
    )
    expect(isHealthExtensionHandler('microsoft.managedservices', 'applicationhealthlinux')).toBe(
      true,
    )
    expect(isHealthExtensionHandler('Microsoft.Azure.Extensions', 'CustomScript')).toBe(false)
  })
})
