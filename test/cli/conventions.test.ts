/**
 * az's argument conventions on every osroll command that has them (issue 16 §2): enum values in
 * any casing, shown back in the canonical casing; resource arguments that take a name or a full
 * id, where a full id needs no companion and a mismatch is an error naming both; `-o none`.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness } from '../../test-support/api-harness.js'
import { cliRunner } from '../../test-support/cli-runner.js'

let h: Awaited<ReturnType<typeof apiHarness>>
let endpoint = ''
const osroll = cliRunner(() => ({ endpoint, token: h.sys.adminToken }))
const run = (line: string) => osroll(...line.split(' '))
const json = (r: { code: number; stdout: string; stderr: string }): any => {
  expect(r.code, r.stderr).toBe(0)
  return JSON.parse(r.stdout)
}
let lbId = ''
let probeId = ''
let setId = ''

beforeAll(async () => {
  h = await apiHarness()
  await h.sys.app.listen({ host: '127.0.0.1', port: 0 })
  endpoint = `http://127.0.0.1:${(h.sys.app.server.address() as { port: number }).port}`
  const rg = `/subscriptions/${h.sub}/resourceGroups/rg/providers`
  lbId = `${rg}/Microsoft.Network/loadBalancers/lb`
  probeId = `${lbId}/probes/http`
  setId = `${rg}/Microsoft.Compute/virtualMachineScaleSets/web`
})
afterAll(() => h.close())

describe('az conventions in the osroll CLI', () => {
  it(
    'enum arguments in any casing: image publish --os, lb --sku, probe --protocol, vmss --upgrade-policy-mode, sig --os-type/--os-state/--hyper-v-generation',
    { timeout: 90_000 },
    async () => {
      const image = json(
        await run(
          'image publish -l westus --publisher Canonical --offer UbuntuServer --sku 18.04-LTS --version 1.0.0 --source sim:?boot=0 --os linux',
        ),
      )
      expect(image.properties.osDiskImage.operatingSystem).toBe('Linux')
      expect(json(await run('network lb create -g rg -n lb --sku standard')).sku.name).toBe(
        'Standard',
      )
      const probe = json(
        await run(
          'network lb probe create -g rg --lb-name lb -n http --protocol hTTp --port 80 --path /',
        ),
      )
      expect(probe.properties.protocol).toBe('Http')
      const set = json(
        await run(
          `vmss create -g rg -n web --image Canonical:UbuntuServer:18.04-LTS:latest --instance-count 1 --upgrade-policy-mode rolling --lb lb --health-probe http --enable-auto-os-upgrade TRUE`,
        ),
      )
      expect(set.properties.upgradePolicy.mode).toBe('Rolling')
      expect(set.properties.upgradePolicy.automaticOSUpgradePolicy.enableAutomaticOSUpgrade).toBe(
        true,
      )
      json(await run('sig create -g rg -r gal'))
      const def = json(
        await run(
          'sig image-definition create -g rg -r gal -i web --publisher me --offer web --sku 1 --os-type LINUX --os-state specialized --hyper-v-generation v2',
        ),
      )
      expect(def.properties).toMatchObject({
        osType: 'Linux',
        osState: 'Specialized',
        hyperVGeneration: 'V2',
      })
      const bad = await run(
        'network lb probe create -g rg --lb-name lb -n x --protocol udp --port 1',
      )
      expect(bad.code).toBe(1)
      expect(bad.stderr).toContain("'udp' is not one of Http, Https, Tcp.")
      expect((await h.call('GET', `${lbId}`)).body.properties.probes).toHaveLength(1)
    },
  )

  it(
    'vmss commands take --ids instead of -g and -n; arguments beside it must agree',
    { timeout: 90_000 },
    async () => {
      expect(json(await run(`vmss show --ids ${setId} --query name`))).toBe('web')
      expect(json(await run(`vmss show --ids ${setId} -g RG -n WEB --query name`))).toBe('web')
      const instances = json(await run(`vmss list-instances --ids ${setId} --query length(@)`))
      expect(instances).toBe(1)
      const scaled = json(
        await run(`vmss scale --ids ${setId} --new-capacity 2 --query sku.capacity`),
      )
      expect(scaled).toBe(2)
      const mismatch = await run(`vmss show --ids ${setId} -n api`)
      expect(mismatch.code).toBe(1)
      expect(mismatch.stderr).toContain("-n/--name 'api' does not match --ids, which names 'web'.")
      const otherSub = await run(
        `vmss show --ids ${setId} --subscription 00000000-0000-0000-0000-000000000009`,
      )
      expect(otherSub.code).toBe(1)
      expect(otherSub.stderr).toContain('--subscription')
      const wrongType = await run(`vmss show --ids ${lbId}`)
      expect(wrongType.code).toBe(1)
      expect(wrongType.stderr).toContain(
        'is not a resource id of /subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Compute/virtualMachineScaleSets/{name}',
      )
      const neither = await run('vmss show')
      expect(neither.code).toBe(1)
      expect(neither.stderr).toContain('-g/--resource-group, -n/--name (or --ids)')
    },
  )

  it(
    '--health-probe and --lb take names or ids; a probe id needs no --lb; a mismatch is refused before anything is created',
    { timeout: 90_000 },
    async () => {
      const byProbeId = json(
        await run(
          `vmss create -g rg -n api --image Canonical:UbuntuServer:18.04-LTS:latest --instance-count 1 --health-probe ${probeId} --query properties.virtualMachineProfile.networkProfile.healthProbe.id`,
        ),
      )
      expect(byProbeId.toLowerCase()).toBe(probeId.toLowerCase())
      const byLbId = json(
        await run(
          `vmss create -g rg -n api2 --image Canonical:UbuntuServer:18.04-LTS:latest --instance-count 1 --lb ${lbId} --health-probe http --query properties.virtualMachineProfile.networkProfile.healthProbe.id`,
        ),
      )
      expect(byLbId.toLowerCase()).toBe(probeId.toLowerCase())
      const mismatch = await run(
        `vmss create -g rg -n nope --image Canonical:UbuntuServer:18.04-LTS:latest --lb other --health-probe ${probeId}`,
      )
      expect(mismatch.code).toBe(1)
      expect(mismatch.stderr).toContain("--lb 'other' does not match --health-probe")
      const probeNameAlone = await run(
        'vmss create -g rg -n nope --image Canonical:UbuntuServer:18.04-LTS:latest --health-probe http',
      )
      expect(probeNameAlone.code).toBe(1)
      expect(probeNameAlone.stderr).toContain('add --lb, or pass the probe')
      const alias = await run('vmss create -g rg -n nope --image Ubuntu2204')
      expect(alias.code).toBe(1)
      expect(alias.stderr).toContain('no image aliases')
      const badId = await run(`vmss create -g rg -n nope --image ${lbId}`)
      expect(badId.code).toBe(1)
      expect(badId.stderr).toContain('is not a resource id of')
      expect((await h.call('GET', setId.replace(/web$/, 'nope'))).status).toBe(404)
      const probeByLbId = json(
        await run(
          `network lb probe create --lb-name ${lbId} -n tcp --protocol TCP --port 22 --query properties.protocol`,
        ),
      )
      expect(probeByLbId).toBe('Tcp')
      const lbMismatch = await run(
        `network lb probe create -g other --lb-name ${lbId} -n tcp2 --protocol Tcp --port 22`,
      )
      expect(lbMismatch.code).toBe(1)
      expect(lbMismatch.stderr).toContain("-g/--resource-group 'other' does not match --lb-name")
    },
  )

  it('every vmss command that addresses one set takes --ids', { timeout: 120_000 }, async () => {
    const api2 = setId.replace(/web$/, 'api2')
    expect(
      json(
        await run(`vmss get-instance-view --ids ${setId} --instance-id 0 --query statuses[0].code`),
      ),
    ).toMatch(/ProvisioningState/)
    expect(json(await run(`vmss get-os-upgrade-history --ids ${setId}`))).toEqual([])
    expect(
      json(
        await run(
          `vmss update --ids ${setId} --set upgradePolicy.rollingUpgradePolicy.maxBatchInstancePercent=50 --query properties.upgradePolicy.rollingUpgradePolicy.maxBatchInstancePercent`,
        ),
      ),
    ).toBe(50)
    expect((await run(`vmss manual-upgrade --ids ${setId} --instance-ids 0 -o none`)).code).toBe(0)
    const started = await run(
      `vmss rolling-upgrade start --ids ${api2} --query properties.runningStatus.code`,
    )
    expect(json(started)).toBe('Completed')
    expect(
      json(
        await run(
          `vmss rolling-upgrade get-latest --ids ${api2} --query properties.runningStatus.code`,
        ),
      ),
    ).toBe('Completed')
    expect((await run(`vmss rolling-upgrade cancel --ids ${api2} -o none`)).code).not.toBe(0)
    expect((await run(`vmss delete --ids ${api2}`)).code).toBe(0)
    expect((await h.call('GET', api2)).status).toBe(404)
  })

  it('image sample --fabric local writes a sample version; a non-empty --out is refused', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'osroll-sample-')), 'v2')
    const made = await run(
      `image sample --fabric LOCAL --version 2.0.0 --health unhealthy --out ${out}`,
    )
    expect(made.code, made.stderr).toBe(0)
    expect(made.stdout.trim()).toBe(pathToFileURL(out).href)
    expect(JSON.parse(readFileSync(join(out, 'image.json'), 'utf8'))).toEqual({
      version: '2.0.0',
      health: 'unhealthy',
      port: 8080,
    })
    const again = await run(`image sample --fabric local --version 2.0.1 --out ${out}`)
    expect(again.code).toBe(1)
    expect(again.stderr).toContain('is not empty')
    rmSync(dirname(out), { recursive: true, force: true })
  })

  it(
    '-o none prints nothing and exits 0; an unknown format is refused before the command runs',
    { timeout: 60_000 },
    async () => {
      const none = await run(`vmss scale --ids ${setId} --new-capacity 3 -o none`)
      expect(none.code, none.stderr).toBe(0)
      expect(none.stdout).toBe('')
      expect((await h.call('GET', setId)).body.sku.capacity).toBe(3)
      const yaml = await run(`vmss scale --ids ${setId} --new-capacity 1 -o yaml`)
      expect(yaml.code).toBe(1)
      expect(yaml.stderr).toContain('Allowed choices are json, jsonc, table, tsv, none')
      expect((await h.call('GET', setId)).body.sku.capacity).toBe(3)
      expect(json(await run(`vmss show --ids ${setId} -o jsonc --query sku.capacity`))).toBe(3)
    },
  )

  it(
    "vmss create --vm-sku names the set's size (default Standard_D2s_v3); an unknown one is the server's InvalidParameter",
    { timeout: 60_000 },
    async () => {
      const image = 'Canonical:UbuntuServer:18.04-LTS:latest'
      const sized = json(
        await run(
          `vmss create -g rg -n small --image ${image} --instance-count 0 --vm-sku Standard_B1s --query sku.name`,
        ),
      )
      expect(sized).toBe('Standard_B1s')
      expect(json(await run(`vmss show -g rg -n web --query sku.name`))).toBe('Standard_D2s_v3')
      const unknown = await run(
        `vmss create -g rg -n huge --image ${image} --instance-count 0 --vm-sku Standard_Z9`,
      )
      expect(unknown.code).toBe(1)
      expect(unknown.stderr).toContain('InvalidParameter')
      expect(unknown.stderr).toContain(
        'The value Standard_Z9 provided for the VM size is not valid',
      )
      expect((await h.call('GET', setId.replace(/web$/, 'huge'))).status).toBe(404)
    },
  )
})
