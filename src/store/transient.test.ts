import { describe, expect, it } from 'vitest'
import { isTransientStoreError } from './transient.js'

describe('isTransientStoreError', () => {
  it('tells lost connections and conflicts from real failures', () => {
    expect(
      isTransientStoreError(Object.assign(new Error('terminating connection'), { code: '57P01' })),
    ).toBe(true)
    expect(isTransientStoreError(Object.assign(new Error('x'), { code: '08006' }))).toBe(true)
    expect(isTransientStoreError(new Error('Connection terminated unexpectedly'))).toBe(true)
    expect(isTransientStoreError(Object.assign(new Error('busy'), { code: 'SQLITE_BUSY' }))).toBe(
      true,
    )
    expect(isTransientStoreError(Object.assign(new Error('dup'), { code: '23505' }))).toBe(false)
    expect(isTransientStoreError(new Error('disk image not found'))).toBe(false)
    expect(isTransientStoreError(null)).toBe(false)
  })
})
