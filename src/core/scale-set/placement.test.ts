import { describe, expect, it } from 'vitest'
import { chooseScaleIn, computerName, placeNewInstances } from './placement.js'
import { planCapacity } from './capacity.js'
import { fleet, spec } from '../../../test-support/builders.js'

describe('§2.2 placement', () => {
  it('spreads zones round-robin; update domain = ordinal in zone mod 5; fault domain 1 when zonal', () => {
    const p = placeNewInstances([], ['1', '2', '3'], 7, undefined)
    expect(p.map((x) => x.zone)).toEqual(['1', '2', '3', '1', '2', '3', '1'])
    expect(p.map((x) => x.updateDomain)).toEqual([0, 0, 0, 1, 1, 1, 2])
    expect(p.map((x) => x.faultDomain)).toEqual([0, 0, 0, 0, 0, 0, 0])
  })

  it('without zones: update domain and fault domain = ordinal mod 5', () => {
    const p = placeNewInstances([], [], 7, undefined)
    expect(p.map((x) => x.updateDomain)).toEqual([0, 1, 2, 3, 4, 0, 1])
    expect(p.map((x) => x.faultDomain)).toEqual([0, 1, 2, 3, 4, 0, 1])
  })

  it('scale-out refills the emptiest zone first', () => {
    const existing = [{ zone: '1' }, { zone: '1' }, { zone: '2' }]
    expect(placeNewInstances(existing, ['1', '2', '3'], 2, 1).map((x) => x.zone)).toEqual([
      '3',
      '2',
    ])
  })

  it('scale-in removes the highest unprotected ids while keeping zones balanced', () => {
    const inst = (id: string, zone: string, p = false) => ({
      instanceId: id,
      zone,
      protectFromScaleIn: p,
    })
    const set = [
      inst('0', '1'),
      inst('1', '2'),
      inst('2', '3'),
      inst('3', '1'),
      inst('4', '2', true),
    ]
    expect(chooseScaleIn(set, 2)).toEqual(['3', '1']) // then zone 2 is the fullest; 4 is protected
    expect(chooseScaleIn([inst('0', '1', true)], 1)).toEqual([])
  })

  it('computer names are the prefix and the id in base 36, six characters', () => {
    expect(computerName('web', '37')).toBe('web000011')
    expect(computerName('web', '0')).toBe('web000000')
  })

  it('capacity: scale out from the model version and next id; scale in by the rules above', () => {
    const out = planCapacity({
      spec: spec({ capacity: 5 }),
      instances: fleet(3),
      managed: new Set(),
      nextInstanceId: 3,
      imageVersion: '1.1.0',
    })
    expect(out.create.map((c) => [c.instanceId, c.imageVersion])).toEqual([
      ['3', '1.1.0'],
      ['4', '1.1.0'],
    ])
    expect(out.nextInstanceId).toBe(5)
    const inn = planCapacity({
      spec: spec({ capacity: 1 }),
      instances: fleet(3),
      managed: new Set(),
      nextInstanceId: 3,
      imageVersion: '1.1.0',
    })
    expect(inn.delete).toEqual(['2', '1'])
  })
})
