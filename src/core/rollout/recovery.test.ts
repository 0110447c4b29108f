/**
 * docs/rollouts.md R1.3 over the pure rules of recovery.ts (issue 18, seed gap 4): which ends
 * fault a version and which hold it, the failed extension a fault names, and which new models
 * release a faulted version.
 */
import { describe, expect, it } from 'vitest'
import {
  extensionFingerprint,
  failedExtensionOf,
  releaseByModel,
  releasedByModel,
  versionOutcome,
} from './recovery.js'
import type { ExtensionFacts } from './recovery.js'
import { CODES } from './messages.js'
import type { Attempt } from './types.js'

const install: ExtensionFacts = {
  name: 'install',
  publisher: 'Microsoft.Azure.Extensions',
  type: 'CustomScript',
  typeHandlerVersion: '2.1',
  settings: { fileUris: ['https://example.invalid/a.sh?sig=old'] },
  protectedSettings: { commandToExecute: 'sh a.sh' },
}

function failedAttempt(id: string, reason: string, message: string): Attempt {
  return {
    instanceId: id,
    batch: 1,
    state: 'RolledBack',
    method: 'reimage',
    fromVersion: '1.0.0',
    fromGeneration: 1,
    surgeInstanceId: null,
    startedAtMs: 0,
    deadlineAtMs: 1,
    endedAtMs: 1,
    failure: { reason: reason as 'ProvisioningFailed', message },
    rollbackError: null,
  }
}

describe('the outcome of an ended platform OS rollout for its version', () => {
  it.each([
    [CODES.beforeRollingUpgrade, 'held'],
    [CODES.inRollingUpgrade, 'held'],
    [CODES.durabilityMismatch, 'held'],
    [CODES.upgradedUnhealthy, 'faulted'],
  ])('Faulted with %s → %s', (code, outcome) => {
    expect(versionOutcome({ status: 'Faulted', error: { code, message: '' } })).toBe(outcome)
  })

  it('Completed or Cancelled → retried after the retry delay', () => {
    expect(versionOutcome({ status: 'Completed', error: null })).toBe('retry')
    expect(versionOutcome({ status: 'Cancelled', error: null })).toBe('retry')
  })
})

describe('the failed extension of a fault', () => {
  it('is the one the most impactful failure names', () => {
    const message = `VM has reported a failure when processing extension 'install'. Error message: "403"`
    expect(
      failedExtensionOf({ attempts: [failedAttempt('0', 'ProvisioningFailed', message)] }),
    ).toBe('install')
  })

  it('is none when the image failed its health deadline', () => {
    const message = 'Instance 0 did not become healthy within PT5M of starting on the new OS disk.'
    expect(
      failedExtensionOf({ attempts: [failedAttempt('0', 'HealthDeadlineExceeded', message)] }),
    ).toBeNull()
  })
})

describe('a model that fixes the failed extension releases the version (the seed: "update the extensions in the scale set model with the new tokens")', () => {
  const cause = {
    version: '1.1.0',
    extension: 'install',
    fingerprint: extensionFingerprint(install),
  }

  it('new settings, a new handler version or removing it release the version', () => {
    const fixed = { ...install, settings: { fileUris: ['https://example.invalid/a.sh?sig=new'] } }
    expect(releasedByModel([cause], [fixed])).toEqual(['1.1.0'])
    expect(releasedByModel([cause], [{ ...install, typeHandlerVersion: '2.2' }])).toEqual(['1.1.0'])
    expect(releasedByModel([cause], [])).toEqual(['1.1.0'])
  })

  it('the same extension, with its members in another order, releases nothing', () => {
    const reordered = { ...install, settings: { ...install.settings } }
    expect(releasedByModel([cause], [reordered])).toEqual([])
  })

  it('releasing forgets the fault and the retry delay of that version only', () => {
    const memory = {
      faultedVersions: ['1.1.0', '1.2.0'],
      lastPlatformRollout: { version: '1.1.0', endedAtMs: 5 },
      faultCauses: [cause, { ...cause, version: '1.2.0', extension: 'agent' }],
    }
    const fixed = { ...install, settings: {} }
    const agent = { ...install, name: 'agent' }
    expect(releaseByModel(memory, [fixed, agent])).toEqual({
      faultedVersions: ['1.2.0'],
      lastPlatformRollout: null,
      faultCauses: [{ ...cause, version: '1.2.0', extension: 'agent' }],
    })
    expect(releaseByModel(memory, null)).toBe(memory)
  })
})
