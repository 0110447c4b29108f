/**
 * `osroll group` against a real server (issue 18 §1), az-style: create with tags, show, list as
 * a table, exists printing true/false, delete that refuses to run without --yes where it cannot
 * ask, waits for the group's Location and takes the group's resources with it, and errors with
 * the ARM code and message.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness } from '../../test-support/api-harness.js'
import { startServe } from '../../test-support/serve-process.js'
import { armPaths, loadBalancerBody } from '../../test-support/arm-fixtures.js'
import { cliRunner } from '../../test-support/cli-runner.js'
import { tagsOf } from '../../src/cli/group.js'

let h: Awaited<ReturnType<typeof apiHarness>>
let endpoint = ''
const osroll = cliRunner(() => ({ endpoint, token: h.sys.adminToken }))

beforeAll(async () => {
  h = await apiHarness({ groups: [] })
  await h.sys.app.listen({ host: '127.0.0.1', port: 0 })
  endpoint = `http://127.0.0.1:${(h.sys.app.server.address() as { port: number }).port}`
})
afterAll(() => h.close())

describe('osroll group', () => {
  it('create, show, list, exists', { timeout: 60_000 }, async () => {
    const created = await osroll(
      'group',
      'create',
      '-g',
      'web',
      '-l',
      'westus',
      '--tags',
      'team=ops',
      'env',
    )
    expect(created.code, created.stderr).toBe(0)
    expect(JSON.parse(created.stdout)).toEqual({
      id: `/subscriptions/${h.sub}/resourceGroups/web`,
      name: 'web',
      type: 'Microsoft.Resources/resourceGroups',
      location: 'westus',
      tags: { team: 'ops', env: '' },
      properties: { provisioningState: 'Succeeded' },
    })
    const shown = await osroll('group', 'show', '-n', 'WEB', '--query', 'tags.team')
    expect(JSON.parse(shown.stdout)).toBe('ops')
    expect((await osroll('group', 'create', '-n', 'api', '-l', 'eastus')).code).toBe(0)
    const table = await osroll('group', 'list', '-o', 'table')
    expect(table.stdout).toMatch(/Name.*Location.*ProvisioningState/s)
    expect(table.stdout).toMatch(/api.*eastus.*Succeeded.*web.*westus.*Succeeded/s)
    expect((await osroll('group', 'exists', '-n', 'web')).stdout.trim()).toBe('true')
    expect((await osroll('group', 'exists', '-g', 'nowhere')).stdout.trim()).toBe('false')
  })

  it('errors name the ARM code; a location never changes', { timeout: 60_000 }, async () => {
    const moved = await osroll('group', 'create', '-g', 'web', '-l', 'eastus')
    expect(moved.code).toBe(1)
    expect(moved.stderr).toContain(
      'osroll: InvalidResourceGroupLocation: Invalid resource group location',
    )
    const missing = await osroll('group', 'show', '-g', 'nowhere')
    expect(missing.code).toBe(1)
    expect(missing.stderr).toContain(
      "ResourceGroupNotFound: Resource group 'nowhere' could not be found.",
    )
    const both = await osroll('group', 'show', '-g', 'web', '-n', 'api')
    expect([both.code, both.stdout]).toEqual([1, ''])
    expect(both.stderr).toMatch(/name different groups/)
    const none = await osroll('group', 'show')
    expect(none.stderr).toMatch(/required: -n\/--name/)
    const lb = await osroll('network', 'lb', 'create', '-g', 'nowhere', '-n', 'lb')
    expect(lb.stderr).toContain('ResourceGroupNotFound')
  })

  it(
    'delete needs --yes without a terminal, then takes what the group holds',
    { timeout: 60_000 },
    async () => {
      expect((await osroll('network', 'lb', 'create', '-g', 'api', '-n', 'lb')).code).toBe(0)
      const asked = await osroll('group', 'delete', '-g', 'api')
      expect(asked.code).toBe(1)
      expect(asked.stderr).toContain(
        'Unable to prompt for confirmation as no tty available. Use --yes.',
      )
      expect((await osroll('group', 'exists', '-n', 'api')).stdout.trim()).toBe('true')
      const deleted = await osroll('group', 'delete', '-g', 'api', '--yes')
      expect([deleted.code, deleted.stdout, deleted.stderr]).toEqual([0, '', ''])
      expect((await osroll('group', 'exists', '-n', 'api')).stdout.trim()).toBe('false')
      const lbs = await h.sys.deps.store.listResources({ type: 'Microsoft.Network/loadBalancers' })
      expect(lbs.map((r) => r.name)).toEqual([])
      expect((await osroll('group', 'delete', '-n', 'web', '-y', '--no-wait')).code).toBe(0)
      expect((await osroll('group', 'list', '--query', '[].name')).stdout.trim()).toBe('[]')
    },
  )

  it('reads --tags as az does', () => {
    expect(tagsOf(['a=b', 'c', 'd=e=f', ''])).toEqual({ a: 'b', c: '', d: 'e=f' })
  })
})

describe('osroll serve --implicit-resource-groups', () => {
  it('alone turns the compatibility switch on', { timeout: 60_000 }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'osroll-implicit-'))
    const server = await startServe(dir, ['--implicit-resource-groups'])
    try {
      const p = armPaths(server.subscriptionId, 'made')
      const lb = await server.call(
        'PUT',
        p.lb,
        loadBalancerBody({ name: 'tcp', protocol: 'Tcp', port: 80 }),
      )
      expect(lb.status).toBe(201)
      expect((await server.call('GET', p.group())).body).toMatchObject({
        name: 'made',
        location: 'westus',
      })
    } finally {
      await server.stop()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
