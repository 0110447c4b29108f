/**
 * `osroll network vnet` and `osroll network vnet subnet` against a real server (issue 18 §2),
 * az-style: create with a subnet, add one, list as a table, show with a query, errors with the
 * ARM code and message that change nothing, delete.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness } from '../../test-support/api-harness.js'
import { cliRunner } from '../../test-support/cli-runner.js'

let h: Awaited<ReturnType<typeof apiHarness>>
let endpoint = ''
const osroll = cliRunner(() => ({ endpoint, token: h.sys.adminToken }))

beforeAll(async () => {
  h = await apiHarness()
  await h.sys.app.listen({ host: '127.0.0.1', port: 0 })
  endpoint = `http://127.0.0.1:${(h.sys.app.server.address() as { port: number }).port}`
})
afterAll(() => h.close())

describe('osroll network vnet', () => {
  it('creates, lists, shows and deletes networks and subnets', { timeout: 90_000 }, async () => {
    const created = await osroll(
      ...'network vnet create -g rg -n vnet --address-prefixes 10.1.0.0/16 --subnet-name web --subnet-prefixes 10.1.0.0/24'.split(
        ' ',
      ),
    )
    expect(created.code, created.stderr).toBe(0)
    expect(JSON.parse(created.stdout)).toMatchObject({
      name: 'vnet',
      type: 'Microsoft.Network/virtualNetworks',
      location: 'westus',
      properties: {
        addressSpace: { addressPrefixes: ['10.1.0.0/16'] },
        subnets: [{ name: 'web', properties: { addressPrefix: '10.1.0.0/24' } }],
      },
    })
    const added = await osroll(
      ...'network vnet subnet create -g rg --vnet-name vnet -n api --address-prefixes 10.1.2.0/24 --query properties.addressPrefix'.split(
        ' ',
      ),
    )
    expect(added.code, added.stderr).toBe(0)
    expect(JSON.parse(added.stdout)).toBe('10.1.2.0/24')
    const table = await osroll(
      ...'network vnet subnet list -g rg --vnet-name vnet -o table'.split(' '),
    )
    expect(table.stdout).toMatch(/Name.*AddressPrefix.*ProvisioningState/s)
    expect(table.stdout).toMatch(
      /web.*10\.1\.0\.0\/24.*Succeeded.*api.*10\.1\.2\.0\/24.*Succeeded/s,
    )

    // An overlapping subnet is Azure's error, and nothing changes.
    const overlap = await osroll(
      ...'network vnet subnet create -g rg --vnet-name vnet -n bad --address-prefixes 10.1.0.0/25'.split(
        ' ',
      ),
    )
    expect(overlap.code).not.toBe(0)
    expect(overlap.stderr).toMatch(/NetcfgSubnetRangesOverlap/)
    expect(overlap.stderr).toMatch(
      /Subnet 'bad' is not valid because its IP address range overlaps/,
    )
    const names = await osroll(
      ...'network vnet show -g rg -n vnet --query properties.subnets[].name'.split(' '),
    )
    expect(JSON.parse(names.stdout)).toEqual(['web', 'api'])

    expect(
      (await osroll(...'network vnet subnet delete -g rg --vnet-name vnet -n api'.split(' '))).code,
    ).toBe(0)
    expect((await osroll(...'network vnet delete -g rg -n vnet'.split(' '))).code).toBe(0)
    const gone = await osroll(...'network vnet list --query [].name'.split(' '))
    expect(JSON.parse(gone.stdout)).toEqual([])
    const missing = await osroll(...'network vnet show -g rg -n vnet'.split(' '))
    expect(missing.code).not.toBe(0)
    expect(missing.stderr).toMatch(/ResourceNotFound/)
  })
})
