import { describe, expect, it } from 'vitest'
import { verdict } from './verdict.js'
import type { HealthInputs } from './verdict.js'

describe('health verdict (docs/rollouts.md R5)', () => {
  it.each<[HealthInputs, string]>([
    [{ power: 'running', provisioning: 'succeeded', health: 'healthy' }, 'healthy'],
    // every extension must have provisioned
    [{ power: 'running', provisioning: 'failed', health: 'healthy' }, 'unhealthy'],
    // Unhealthy and Unknown count as unhealthy
    [{ power: 'running', provisioning: 'succeeded', health: 'unhealthy' }, 'unhealthy'],
    [{ power: 'running', provisioning: 'succeeded', health: 'unknown' }, 'unhealthy'],
    // Initializing means wait: neither healthy nor unhealthy
    [{ power: 'running', provisioning: 'succeeded', health: 'initializing' }, 'initializing'],
    [{ power: 'starting', provisioning: 'updating', health: 'unknown' }, 'initializing'],
    [{ power: 'running', provisioning: 'creating', health: 'unknown' }, 'initializing'],
    // an instance process that exits is stopped and unhealthy
    [{ power: 'stopped', provisioning: 'succeeded', health: 'healthy' }, 'unhealthy'],
    [{ power: 'deallocated', provisioning: 'succeeded', health: 'healthy' }, 'unhealthy'],
    [{ power: 'running', provisioning: 'deleting', health: 'healthy' }, 'unhealthy'],
  ])('%j → %s', (inputs, expected) => {
    expect(verdict(inputs)).toBe(expected)
  })
})
