import { describe, expect, it } from 'vitest'
import {
  fromArmImageReference,
  imageLabel,
  imageLineKey,
  isLatest,
  isPinned,
  toArmImageReference,
} from './image-ref.js'

const G = '/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/galleries/gal/images/web'

describe('image references', () => {
  it('reads platform, gallery (latest and pinned) and custom references', () => {
    expect(
      fromArmImageReference({
        publisher: 'Canonical',
        offer: 'UbuntuServer',
        sku: '18.04-LTS',
        version: 'latest',
      }),
    ).toEqual({
      kind: 'platform',
      publisher: 'Canonical',
      offer: 'UbuntuServer',
      sku: '18.04-LTS',
      version: 'latest',
    })
    expect(fromArmImageReference({ id: G })).toEqual({
      kind: 'gallery',
      definitionId: G,
      version: 'latest',
    })
    expect(fromArmImageReference({ id: `${G}/versions/1.2.0` })).toEqual({
      kind: 'gallery',
      definitionId: G,
      version: '1.2.0',
    })
    const managed = '/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/images/golden'
    expect(fromArmImageReference({ id: managed })).toEqual({ kind: 'custom', id: managed })
    expect(fromArmImageReference({ publisher: 'Canonical', offer: 'UbuntuServer' })).toBeUndefined()
  })

  it('tells latest from pinned; custom images are neither', () => {
    const latest = fromArmImageReference({ id: G })!
    const pinned = fromArmImageReference({ id: `${G}/versions/1.2.0` })!
    expect([isLatest(latest), isPinned(latest)]).toEqual([true, false])
    expect([isLatest(pinned), isPinned(pinned)]).toEqual([false, true])
    const custom = fromArmImageReference({
      id: '/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/images/x',
    })!
    expect([isLatest(custom), isPinned(custom)]).toEqual([false, false])
  })

  it('round-trips to ARM with exactVersion and keys lines case-insensitively', () => {
    const ref = fromArmImageReference({ id: G })!
    expect(toArmImageReference(ref, '1.2.0')).toEqual({ id: G, exactVersion: '1.2.0' })
    expect(imageLineKey(ref)).toBe(
      imageLineKey(
        fromArmImageReference({ id: G.toUpperCase().replace('/SUBSCRIPTIONS', '/subscriptions') })!,
      ),
    )
    expect(imageLabel(ref, '1.2.0')).toBe(`${G}/versions/1.2.0`)
    const p = fromArmImageReference({
      publisher: 'Canonical',
      offer: 'UbuntuServer',
      sku: '18.04-LTS',
      version: 'latest',
    })!
    expect(imageLabel(p, '1.2.0')).toBe('Canonical:UbuntuServer:18.04-LTS:1.2.0')
  })
})
