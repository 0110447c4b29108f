/** The dashboard's wording of the ARM shapes it reads (dashboard/src/model.ts), without a browser. */
import { describe, expect, it } from 'vitest'
import { subscriptionHeading } from '../../dashboard/src/model.js'

describe('subscriptionHeading', () => {
  const id = '5c0b5e55-0000-4000-8000-00000000abcd'
  it('shows the id once when the subscription has no display name of its own', () => {
    // The API gives the id as the display name then.
    expect(subscriptionHeading({ subscriptionId: id, displayName: id })).toEqual({
      title: id,
      id: null,
    })
    expect(subscriptionHeading({ subscriptionId: id, displayName: '  ' })).toEqual({
      title: id,
      id: null,
    })
    expect(subscriptionHeading({ subscriptionId: id })).toEqual({ title: id, id: null })
  })
  it('shows a display name with the id beside it', () => {
    expect(subscriptionHeading({ subscriptionId: id, displayName: 'prod' })).toEqual({
      title: 'prod',
      id,
    })
  })
})
