/**
 * The `osroll` client commands against a real server (issue 6): every command of this build,
 * with json/table/tsv output and --query, a rollout waited for with progress lines, and errors
 * that print the ARM code, the message and a hint — never a stack trace.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness, waitFor } from '../../test-support/api-harness.js'
import { cliRunner } from '../../test-support/cli-runner.js'
import {
  armPaths,
  autoUpgradeSetBody,
  imageBody,
  loadBalancerBody,
} from '../../test-support/arm-fixtures.js'

let h: Awaited<ReturnType<typeof apiHarness>>
let endpoint = ''
const osroll = cliRunner(() => ({ endpoint, token: h.sys.adminToken }))

beforeAll(async () => {
  h = await apiHarness()
  await h.sys.app.listen({ host: '127.0.0.1', port: 0 })
  endpoint = `http://127.0.0.1:${(h.sys.app.server.address() as { port: number }).port}`
  const p = armPaths(h.sub)
  await h.call('PUT', p.image('1.0.0'), { body: imageBody('sim:?boot=0') })
  await h.call('PUT', p.lb, { body: loadBalancerBody({ name: 'tcp', protocol: 'Tcp', port: 80 }) })
  const manual = autoUpgradeSetBody({ sub: h.sub, capacity: 3, probe: 'tcp' }) as {
    properties: Record<string, unknown>
  }
  manual.properties['upgradePolicy'] = { mode: 'Manual' }
  await h.call('PUT', p.set('web'), { body: manual })
  await waitFor(
    async () =>
      (await h.call('GET', p.set('web'))).body.properties?.provisioningState === 'Succeeded',
    'set',
  )
})
afterAll(() => h.close())

describe('osroll client commands', () => {
  it(
    'vmss list / show / list-instances with table, tsv and --query',
    { timeout: 60_000 },
    async () => {
      const table = await osroll('vmss', 'list', '-g', 'rg', '-o', 'table')
      expect(table.code).toBe(0)
      expect(table.stdout).toMatch(/Name.*Location.*Capacity.*Mode.*ProvisioningState/s)
      expect(table.stdout).toMatch(/web.*westus.*3.*Manual.*Succeeded/s)
      const state = await osroll(
        'vmss',
        'show',
        '-g',
        'rg',
        '-n',
        'web',
        '--query',
        'properties.provisioningState',
      )
      expect(JSON.parse(state.stdout)).toBe('Succeeded')
      const tsv = await osroll('vmss', 'list-instances', '-g', 'rg', '-n', 'web', '-o', 'tsv')
      expect(
        tsv.stdout
          .trim()
          .split('\n')
          .map((l) => l.split('\t').slice(0, 3)),
      ).toEqual([
        ['0', 'web_0', '1.0.0'],
        ['1', 'web_1', '1.0.0'],
        ['2', 'web_2', '1.0.0'],
      ])
      const view = await osroll(
        'vmss',
        'get-instance-view',
        '-g',
        'rg',
        '-n',
        'web',
        '--instance-id',
        '1',
        '--query',
        'statuses[].code',
      )
      expect(JSON.parse(view.stdout)).toEqual(['ProvisioningState/succeeded', 'PowerState/running'])
    },
  )

  it(
    'image publish, vm image list, rolling-upgrade start (waits, with progress), history, scale',
    { timeout: 90_000 },
    async () => {
      const pub = await osroll(
        'image',
        'publish',
        '-l',
        'westus',
        '--publisher',
        'Canonical',
        '--offer',
        'UbuntuServer',
        '--sku',
        '18.04-LTS',
        '--version',
        '1.1.0',
        '--source',
        'sim:?boot=0',
      )
      expect(pub.code).toBe(0)
      expect(JSON.parse(pub.stdout).name).toBe('1.1.0')
      const list = await osroll(
        'vm',
        'image',
        'list',
        '-l',
        'westus',
        '--publisher',
        'Canonical',
        '--offer',
        'UbuntuServer',
        '--sku',
        '18.04-LTS',
        '--all',
        '--query',
        '[].urn',
      )
      expect(JSON.parse(list.stdout)).toEqual([
        'Canonical:UbuntuServer:18.04-LTS:1.0.0',
        'Canonical:UbuntuServer:18.04-LTS:1.1.0',
      ])
      const start = await osroll(
        'vmss',
        'rolling-upgrade',
        'start',
        '-g',
        'rg',
        '-n',
        'web',
        '--query',
        'properties.runningStatus.code',
      )
      expect(start.code).toBe(0)
      expect(JSON.parse(start.stdout)).toBe('Completed')
      expect(start.stderr).toMatch(/rollout: 3 succeeded, 0 failed, 0 in progress, 0 pending/)
      const history = await osroll(
        'vmss',
        'get-os-upgrade-history',
        '-g',
        'rg',
        '-n',
        'web',
        '-o',
        'table',
      )
      expect(history.stdout).toMatch(/Completed.*User.*1\.1\.0.*3.*0/s)
      const latest = await osroll(
        'vmss',
        'rolling-upgrade',
        'get-latest',
        '-g',
        'rg',
        '-n',
        'web',
        '--query',
        'properties.progress.successfulInstanceCount',
      )
      expect(JSON.parse(latest.stdout)).toBe(3)
      const scaled = await osroll(
        'vmss',
        'scale',
        '-g',
        'rg',
        '-n',
        'web',
        '--new-capacity',
        '5',
        '--query',
        'sku.capacity',
      )
      expect(JSON.parse(scaled.stdout)).toBe(5)
    },
  )

  it(
    'network lb create, probe create, vmss create, update --set and manual-upgrade',
    { timeout: 90_000 },
    async () => {
      expect((await osroll('network', 'lb', 'create', '-g', 'rg', '-n', 'lb2')).code).toBe(0)
      const probe = await osroll(
        'network',
        'lb',
        'probe',
        'create',
        '-g',
        'rg',
        '--lb-name',
        'lb2',
        '-n',
        'http',
        '--protocol',
        'Http',
        '--port',
        '8080',
        '--path',
        '/health',
        '-o',
        'tsv',
      )
      expect(probe.stdout.trim()).toBe('http\tHttp\t8080\t/health')
      const created = await osroll(
        'vmss',
        'create',
        '-g',
        'rg',
        '-n',
        'cli',
        '--image',
        'Canonical:UbuntuServer:18.04-LTS:latest',
        '--instance-count',
        '4',
        '--lb',
        'lb2',
        '--health-probe',
        'http',
        '--upgrade-policy-mode',
        'Manual',
        '--enable-auto-os-upgrade',
        '--zones',
        '1',
        '2',
        '--data-disk-sizes-gb',
        '1',
      )
      expect(created.code, created.stderr).toBe(0)
      expect(JSON.parse(created.stdout)).toMatchObject({
        name: 'cli',
        zones: ['1', '2'],
        properties: {
          provisioningState: 'Succeeded',
          upgradePolicy: { automaticOSUpgradePolicy: { enableAutomaticOSUpgrade: true } },
        },
      })
      expect(created.stderr).toMatch(/instances: \d\/4 provisioned/)
      const updated = await osroll(
        'vmss',
        'update',
        '-g',
        'rg',
        '-n',
        'cli',
        '--set',
        'UpgradePolicy.RollingUpgradePolicy.MaxBatchInstancePercent=50',
        '--query',
        'properties.upgradePolicy.rollingUpgradePolicy',
      )
      expect(updated.code, updated.stderr).toBe(0)
      expect(JSON.parse(updated.stdout)).toEqual({ maxBatchInstancePercent: 50 })
      const bad = await osroll(
        'vmss',
        'update',
        '-g',
        'rg',
        '-n',
        'cli',
        '--set',
        'upgradePolicy.rollingUpgradePolicy.maxBatchInstancePercent=1',
      )
      expect(bad.stderr).toMatch(
        /InvalidParameter: maxBatchInstancePercent must be an integer between 5 and 100/,
      )
      const manual = await osroll(
        'vmss',
        'update',
        '-g',
        'rg',
        '-n',
        'cli',
        '--set',
        'virtualMachineProfile.osProfile.customData="IyEvYmluL3NoCg=="',
      )
      expect(manual.code, manual.stderr).toBe(0)
      const upgraded = await osroll(
        'vmss',
        'manual-upgrade',
        '-g',
        'rg',
        '-n',
        'cli',
        '--instance-ids',
        '0',
        '1',
        '--query',
        '[].properties.latestModelApplied',
      )
      expect(JSON.parse(upgraded.stdout)).toEqual([true, true, false, false])
    },
  )

  it(
    'sig create, image-definition create, image-version create and show (replication)',
    { timeout: 60_000 },
    async () => {
      expect((await osroll('sig', 'create', '-g', 'rg', '-r', 'gal')).code).toBe(0)
      const def = await osroll(
        'sig',
        'image-definition',
        'create',
        '-g',
        'rg',
        '-r',
        'gal',
        '-i',
        'web',
        '--publisher',
        'me',
        '--offer',
        'web',
        '--sku',
        '1',
        '-o',
        'tsv',
      )
      expect(def.stdout.trim()).toBe('web\twestus\tLinux')
      const ver = await osroll(
        'sig',
        'image-version',
        'create',
        '-g',
        'rg',
        '-r',
        'gal',
        '-i',
        'web',
        '-e',
        '1.0.0',
        '--source',
        'sim:?boot=0',
        '--target-regions',
        'westus',
        'eastus=exclude',
      )
      expect(ver.code, ver.stderr).toBe(0)
      const show = await osroll(
        'sig',
        'image-version',
        'show',
        '-g',
        'rg',
        '-r',
        'gal',
        '-i',
        'web',
        '-e',
        '1.0.0',
        '--query',
        'properties.replicationStatus.summary[].region',
      )
      expect(JSON.parse(show.stdout)).toEqual(['westus', 'eastus'])
      const excluded = await osroll(
        'sig',
        'image-version',
        'show',
        '-g',
        'rg',
        '-r',
        'gal',
        '-i',
        'web',
        '-e',
        '1.0.0',
        '--query',
        'properties.publishingProfile.targetRegions[1].excludeFromLatest',
      )
      expect(JSON.parse(excluded.stdout)).toBe(true)
    },
  )

  it(
    'errors print the ARM code, the message and a hint, exit 1, and never a stack',
    { timeout: 60_000 },
    async () => {
      const missing = await osroll('vmss', 'show', '-g', 'rg', '-n', 'nope')
      expect(missing.code).toBe(1)
      expect(missing.stderr).toMatch(
        /^osroll: ResourceNotFound: The Resource 'Microsoft.Compute\/virtualMachineScaleSets\/nope'/,
      )
      expect(missing.stderr).toMatch(/hint: check -g\/--resource-group and -n\/--name/)
      expect(missing.stderr).not.toMatch(/\s+at .*\(/)
      const cancel = await osroll('vmss', 'rolling-upgrade', 'cancel', '-g', 'rg', '-n', 'web')
      expect(cancel.stderr).toMatch(
        /OperationNotAllowed: There is no ongoing Rolling Upgrade to cancel/,
      )
      const query = await osroll('vmss', 'list', '--query', '[?')
      expect(query.stderr).toMatch(/--query '\[\?' is not valid JMESPath/)
      const usage = await osroll('vmss', 'show', '-g', 'rg')
      expect(usage.code).not.toBe(0)
      expect(usage.stderr).toContain('the following arguments are required: -n/--name (or --ids)')
    },
  )
})
