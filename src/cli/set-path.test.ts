import { describe, expect, it } from 'vitest'
import { applySet } from './set-path.js'

describe('--set paths (az style)', () => {
  it('matches existing members case-insensitively and parses JSON values', () => {
    const doc = {
      sku: { capacity: 2 },
      properties: { upgradePolicy: { mode: 'Manual' }, list: [{ a: 1 }] },
    }
    expect(applySet(doc, 'Properties.UpgradePolicy.Mode=Rolling')).toMatchObject({
      properties: { upgradePolicy: { mode: 'Rolling' } },
    })
    expect(applySet(doc, 'sku.capacity=5')).toMatchObject({ sku: { capacity: 5 } })
    expect(applySet(doc, 'properties.list[0].a=true')).toMatchObject({
      properties: { list: [{ a: true }] },
    })
    expect(applySet(doc, 'properties.new.deep={"x":[1]}')).toMatchObject({
      properties: { new: { deep: { x: [1] } } },
    })
    expect(doc.properties.upgradePolicy.mode).toBe('Manual') // the input is not changed
  })

  it('refuses malformed expressions with a message that says what to fix', () => {
    expect(() => applySet({}, 'novalue')).toThrow(/must be Path.To.Field=value/)
    expect(() => applySet({ a: 1 }, 'a[0]=1')).toThrow(/is not a list/)
  })
})
