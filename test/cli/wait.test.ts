/**
 * `osroll vmss rolling-upgrade wait` and `start`'s wait (issue 20 §3): the exit code says how the
 * rollout ended — 0 Completed, 1 Faulted, 2 Cancelled, 3 timed out — for CI pipelines and
 * Terraform-style tools; a bad --timeout is a message, not a stack.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { apiHarness } from '../../test-support/api-harness.js'
import { cliRunner } from '../../test-support/cli-runner.js'

let h: Awaited<ReturnType<typeof apiHarness>>
let endpoint = ''
const osroll = cliRunner(() => ({ endpoint, token: h.sys.adminToken }))
const run = (line: string) => osroll(...line.split(' '))
const publish = async (version: string, source: string) => {
  const r = await run(
    `image publish -l westus --publisher Canonical --offer UbuntuServer --sku 18.04-LTS --version ${version} --source ${source} -o none`,
  )
  expect(r.code, r.stderr).toBe(0)
}
const status = (r: { stdout: string }) => JSON.parse(r.stdout) as string
const Q = '--query properties.runningStatus.code'

beforeAll(async () => {
  h = await apiHarness({ healthDeadline: 'PT8S' })
  await h.sys.app.listen({ host: '127.0.0.1', port: 0 })
  endpoint = `http://127.0.0.1:${(h.sys.app.server.address() as { port: number }).port}`
})
afterAll(() => h.close())

describe('rolling-upgrade wait and start exit codes', () => {
  it('exit 0 Completed, 3 timed out, 2 Cancelled, 1 Faulted', { timeout: 120_000 }, async () => {
    await publish('1.0.0', 'sim:?boot=0')
    expect((await run('network lb create -g rg -n lb -o none')).code).toBe(0)
    const probe =
      'network lb probe create -g rg --lb-name lb -n http --protocol Http --port 80 --path / -o none'
    expect((await run(probe)).code).toBe(0)
    const created = await run(
      'vmss create -g rg -n web --image Canonical:UbuntuServer:18.04-LTS:latest --instance-count 3 --lb lb --health-probe http -o none',
    )
    expect(created.code, created.stderr).toBe(0)

    await publish('1.1.0', 'sim:?boot=0')
    const done = await run(`vmss rolling-upgrade start -g rg -n web ${Q}`)
    expect([done.code, status(done)], done.stderr).toEqual([0, 'Completed'])
    const again = await run(`vmss rolling-upgrade wait -g rg -n web ${Q}`)
    expect([again.code, status(again)]).toEqual([0, 'Completed'])

    await publish('1.2.0', 'sim:?boot=6') // three batches of one, 6 s each
    expect((await run('vmss rolling-upgrade start -g rg -n web --no-wait -o none')).code).toBe(0)
    const late = await run(`vmss rolling-upgrade wait -g rg -n web --timeout PT1S ${Q}`)
    expect([late.code, status(late)]).toEqual([3, 'RollingForward'])
    expect(late.stderr).toMatch(/did not end within PT1S; it goes on/)
    // cancelled through the API: a CLI start-up could outlast the batches
    const set = `/subscriptions/${h.sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/web`
    expect((await h.call('POST', `${set}/rollingUpgrades/cancel`)).status).toBe(202)
    const cancelled = await run(`vmss rolling-upgrade wait -g rg -n web ${Q}`)
    expect([cancelled.code, status(cancelled)], cancelled.stderr).toEqual([2, 'Cancelled'])

    await publish('1.3.0', 'sim:?boot=0&health=unhealthy')
    const faulted = await run(`vmss rolling-upgrade start -g rg -n web --wait ${Q}`)
    expect([faulted.code, status(faulted)], faulted.stderr).toEqual([1, 'Faulted'])
    expect((await run('vmss rolling-upgrade wait -g rg -n web -o none')).code).toBe(1)
  })

  it('refuses a --timeout that is not a duration, and a set that does not exist', async () => {
    const bad = await run('vmss rolling-upgrade wait -g rg -n web --timeout soon')
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/--timeout 'soon' is not a positive ISO 8601 duration/)
    expect(bad.stderr).toMatch(/hint: write it like PT30M/)
    const missing = await run('vmss rolling-upgrade wait -g rg -n nope')
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/^osroll: ResourceNotFound/)
  })
})
