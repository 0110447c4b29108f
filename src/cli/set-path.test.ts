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

describe('--set paths cannot reach a prototype (issue 15)', () => {
  const probe = () => ({}) as Record<string, unknown>
  it.each([
    '__proto__.p=1',
    'constructor.prototype.p=1',
    'properties.__proto__.p=1',
    'properties.constructor.prototype.p=1',
    'prototype.p=1',
    '__PROTO__.p=1',
    'list[0].__proto__.p=1',
    'sku.__proto__=1',
  ])('refuses %s and leaves Object.prototype untouched', (expression) => {
    const doc = { properties: {}, sku: { capacity: 1 }, list: [{}] }
    expect(() => applySet(doc, expression)).toThrow(/not allowed as a path segment/)
    expect(probe()['p']).toBeUndefined()
    expect(Object.prototype).not.toHaveProperty('p')
    expect(doc).toEqual({ properties: {}, sku: { capacity: 1 }, list: [{}] })
  })

  it('follows only own members: a name inherited from Object.prototype is a new member', () => {
    const out = applySet({}, 'toString.x=1')
    expect(Object.hasOwn(out, 'toString')).toBe(true)
    expect(out['toString']).toEqual({ x: 1 })
    expect(typeof ({} as { toString: unknown }).toString).toBe('function')
  })

  it('a JSON value with a __proto__ member stays a plain own member', () => {
    const out = applySet({}, 'tags={"__proto__":{"p":1}}')
    expect(probe()['p']).toBeUndefined()
    expect(Object.prototype).not.toHaveProperty('p')
    expect(JSON.stringify(out)).toBe('{"tags":{"__proto__":{"p":1}}}')
  })

  it('refuses to descend into a scalar', () => {
    expect(() => applySet({ sku: { capacity: 2 } }, 'sku.capacity.x=1')).toThrow(
      /'capacity' is 2, not an object/,
    )
  })
})
