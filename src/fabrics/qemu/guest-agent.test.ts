/**
 * The guest agent's host side, without a VM: the goal state of a VM's OS disk in
 * provisionAfterExtensions order, the steps and reports turned into local's statuses and
 * provisioning outcome, and through the endpoint: Metadata: true required, a VM reads and
 * reports for itself only, a new OS disk is a new goal, in-guest Application Health.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import type { ExtensionModel, HealthCheck } from '../types/fabric.js'
import type { MetadataRequest } from '../types/metadata.js'
import { GuestAgentEndpoint } from './guest-agent-endpoint.js'
import {
  applyFetch,
  applyHealth,
  applyReport,
  freshProgress,
  nextStep,
  provisioningOf,
  runOrder,
  type AgentGoalInput,
} from './guest-agent.js'
import { MemoryQemuState, vmDir, type QemuInstance } from './qemu-state.js'

const dir = mkdtempSync(join(tmpdir(), 'osroll-agent-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

function ext(name: string, o: Partial<ExtensionModel> = {}): ExtensionModel {
  return {
    name,
    publisher: 'Microsoft.Azure.Extensions',
    type: 'CustomScript',
    typeHandlerVersion: '2.1',
    settings: { commandToExecute: `echo ${name}` },
    protectedSettings: {},
    provisionAfterExtensions: [],
    suppressFailures: false,
    ...o,
  }
}
const health = ext('health', {
  publisher: 'Microsoft.ManagedServices',
  type: 'ApplicationHealthLinux',
  settings: { protocol: 'http', port: 8080, requestPath: '/health' },
})
const goal = (extensions: ExtensionModel[], budgetMs = 60_000): AgentGoalInput => ({
  vmId: 'vm0',
  diskN: 1,
  modelGeneration: 1,
  sinceMs: 0,
  extensions,
  budgetMs,
})

describe('the goal state and its steps', () => {
  it('runs each extension after those its provisionAfterExtensions names', () => {
    const exts = [ext('a', { provisionAfterExtensions: ['c'] }), ext('b'), ext('c')]
    expect(runOrder(exts)).toEqual([2, 0, 1])
  })

  it('turns exit codes into local’s statuses; dependents of a failure fail; the root cause is named', () => {
    const g = goal([
      ext('install'),
      ext('after', { provisionAfterExtensions: ['install'] }),
      health,
    ])
    let p = freshProgress(g)
    const first = nextStep(g, p, 1000)
    expect(first.step).toEqual({
      kind: 'run',
      index: 0,
      command: 'echo install',
      timeoutSeconds: 59,
      files: false,
    })
    p = applyReport(g, first.progress, 0, 3, 'no such file\n', 2000)!
    expect(applyReport(g, p, 0, 0, 'again', 2100)).toBeNull() // reported once only
    const second = nextStep(g, p, 3000)
    expect(second.step).toEqual({ kind: 'done' })
    const out = provisioningOf(g, second.progress, 3000)
    expect(out.state).toBe('failed')
    expect(out.extensions.map((s) => [s.name, s.state])).toEqual([
      ['install', 'failed'],
      ['after', 'failed'],
      ['health', 'succeeded'],
    ])
    expect(out.extensions[0]?.message).toBe('The command exited with code 3: no such file\n')
    expect(out.extensions[1]?.message).toBe(
      "VM Extension 'after' is marked as failed since it depends upon the VM Extension 'install' which has failed.",
    )
    expect(out.error).toBe(
      `VM has reported a failure when processing extension 'install'. Error message: "The command exited with code 3: no such file\n"`,
    )
  })

  it('succeeds with the output tail; transitioning until then; suppressFailures does not fail it', () => {
    const g = goal([ext('ok'), ext('optional', { suppressFailures: true })])
    const a = nextStep(g, freshProgress(g), 0)
    expect(provisioningOf(g, a.progress, 0)).toMatchObject({
      state: 'updating',
      extensions: [{ state: 'transitioning' }, { state: 'transitioning' }],
    })
    let p = applyReport(g, a.progress, 0, 0, 'x'.repeat(3000) + 'end', 10)!
    p = applyReport(g, nextStep(g, p, 20).progress, 1, 1, '', 30)!
    const out = provisioningOf(g, p, 40)
    expect(out.state).toBe('succeeded')
    expect(out.extensions[0]?.message).toBe(`Enable succeeded: ${'x'.repeat(1997)}end`)
    expect(out.extensions[1]?.state).toBe('failed')
  })

  it('fetches fileUris before the command; refuses a missing command on the host; a spent budget fails what is left', () => {
    const g = goal([
      ext('empty', { settings: {} }),
      ext('fetch', { settings: { fileUris: ['https://h/x.sh'], commandToExecute: 'sh x.sh' } }),
      ext('late'),
    ])
    const first = nextStep(g, freshProgress(g), 0)
    expect(first.step).toEqual({
      kind: 'fetch',
      index: 1,
      uris: ['https://h/x.sh'],
      timeoutMs: 60_000,
    })
    expect(first.progress.statuses[0]?.message).toBe('commandToExecute is required.')
    const fetched = applyFetch(g, first.progress, 1, null)!
    expect(nextStep(g, fetched, 1000).step).toEqual({
      kind: 'run',
      index: 1,
      command: 'sh x.sh',
      timeoutSeconds: 59,
      files: true,
    })
    const refused = applyFetch(
      g,
      first.progress,
      1,
      "Failed to download file 'https://h/x.sh': no",
    )!
    expect(refused.statuses[1]).toMatchObject({
      state: 'failed',
      message: "Failed to download file 'https://h/x.sh': no",
    })
    expect(applyFetch(g, refused, 1, null)).toBeNull() // decided already
    const { step, progress } = nextStep(g, refused, 0)
    expect(step).toMatchObject({ kind: 'run', index: 2, files: false })
    expect(
      applyReport(g, fetched, 1, 'files', 'x.sh could not be copied\n', 0)?.statuses[1]?.message,
    ).toBe(
      'The guest agent could not copy the fetched fileUris into the guest: x.sh could not be copied\n',
    )
    // A fileUri's credentials the command prints are scrubbed, as on local.
    const tokened = goal([
      ext('fetch', {
        settings: { fileUris: ['https://h/x.sh?sig=s3cr3t'], commandToExecute: 'sh x.sh' },
      }),
    ])
    expect(
      applyReport(tokened, freshProgress(tokened), 0, 0, 'got https://h/x.sh?sig=s3cr3t\n', 0)
        ?.statuses[0]?.message,
    ).toBe('Enable succeeded: got https://h/x.sh?***\n')
    const spent = provisioningOf(g, progress, 60_000)
    expect(spent.state).toBe('failed')
    expect(spent.extensions[2]?.message).toBe(
      "VM Extension 'late' did not run: the extensions time budget of 60 s was spent.",
    )
    expect(provisioningOf(g, freshProgress(g), 60_000).extensions[2]?.message).toMatch(
      /^The guest agent did not ask for its extensions within the extensions time budget of 60 s/,
    )
  })

  it('folds in-guest Application Health results with the prober’s rule (rich: threshold, grace)', () => {
    const check: HealthCheck = {
      protocol: 'http',
      port: 8080,
      requestPath: '/health',
      intervalMs: 5000,
      threshold: 2,
      mode: 'rich',
      gracePeriodMs: 30_000,
    }
    const g = goal([health])
    let p = applyHealth(freshProgress(g), check, 'healthy', 1, 0)
    expect(p.health?.state).toBe('initializing')
    p = applyHealth(p, check, 'healthy', 1, 5000)
    expect(p.health?.state).toBe('healthy')
    p = applyHealth(p, check, 'unhealthy', 2, 10_000)
    expect(p.health?.state).toBe('unhealthy')
    const slow = applyHealth(freshProgress(g), check, 'unknown', 1, 0)
    expect(applyHealth(slow, check, 'healthy', 1, 31_000).health?.state).toBe('unknown') // grace over
  })
})

function record(instanceId: string, o: Partial<QemuInstance> = {}): QemuInstance {
  return {
    scaleSetKey: 'set',
    instanceId,
    vmId: `vm${instanceId}`,
    zone: null,
    updateDomain: 0,
    faultDomain: 0,
    privateIp: `127.77.0.${instanceId}`,
    computerName: `web00000${instanceId}`,
    disk: { n: 1, digest: 'd', version: '1.0.0', label: 'l', modelGeneration: 1, startedAtMs: 0 },
    previous: null,
    process: null,
    spawning: null,
    wantRunning: true,
    provisioning: { state: 'succeeded', error: null },
    dataDisks: [],
    healthCheck: null,
    customData: null,
    extensions: [ext('install')],
    extensionsTimeBudgetMs: 60_000,
    healthSource: 'probe',
    ...o,
  }
}

describe('GuestAgentEndpoint', () => {
  const req = (method: string, url: string, body = '', metadata = true): MetadataRequest => ({
    method,
    url,
    metadataHeader: metadata ? 'true' : null,
    forwardedFor: false,
    body,
  })

  it('serves a VM its own goal and takes its reports only; a new OS disk is a new goal', async () => {
    const root = join(dir, 'a')
    const state = new MemoryQemuState()
    const changed: string[] = []
    let now = 1000
    const agent = new GuestAgentEndpoint({
      rootDir: root,
      state,
      nowMs: () => now,
      onChange: (k) => changed.push(k),
    })
    const vm0 = record('0', {
      extensions: [ext('install', { settings: { commandToExecute: 'echo zero' } })],
    })
    const vm1 = record('1', {
      extensions: [ext('install', { settings: { commandToExecute: 'echo one' } })],
    })
    for (const r of [vm0, vm1]) {
      await state.put(r)
      await mkdir(vmDir(root, 'set', r.instanceId), { recursive: true })
    }
    const as = (id: string, r: MetadataRequest) =>
      agent.answer({ scaleSetKey: 'set', instanceId: id }, r)

    expect((await as('0', req('GET', '/metadata/osroll/extensions/next', '', false))).status).toBe(
      400,
    )
    const doc = JSON.parse(
      (await as('0', req('GET', '/metadata/osroll/extensions?instanceId=1'))).body,
    )
    expect(doc).toMatchObject({
      goal: 'vm0-os1-g1',
      extensions: [{ index: 0, name: 'install', settings: { commandToExecute: 'echo zero' } }],
      applicationHealth: null,
    })
    const next = await as('0', req('GET', '/metadata/osroll/extensions/next?instance=1'))
    expect(next.body).toBe('run vm0-os1-g1 0 59 0\necho zero\n')
    // VM 0 naming VM 1's goal reports nothing for either.
    const forged = await as(
      '0',
      req('POST', '/metadata/osroll/extensions/0/status?goal=vm1-os1-g1&exit=0', 'hi'),
    )
    expect(forged.body).toBe('ignored\n')
    expect(
      (
        await as(
          '0',
          req('POST', '/metadata/osroll/extensions/0/status?goal=vm0-os1-g1&exit=0', 'zero\n'),
        )
      ).body,
    ).toBe('ok\n')
    expect(agent.provisioning(vm0, await agent.progressOf(vm0))).toMatchObject({
      state: 'succeeded',
      extensions: [{ state: 'succeeded', message: 'Enable succeeded: zero\n' }],
    })
    expect(agent.provisioning(vm1, await agent.progressOf(vm1))?.state).toBe('updating')
    expect(changed).toEqual(['set'])
    expect((await as('0', req('GET', '/metadata/osroll/extensions/next'))).body).toBe(
      'done vm0-os1-g1 none\n',
    )

    // A reimage: the next OS disk's goal starts again; a late report of the old one is ignored.
    now = 5000
    const reimaged = record('0', {
      extensions: vm0.extensions,
      disk: { ...vm0.disk, n: 2, startedAtMs: 5000 },
    })
    await state.put(reimaged)
    expect(agent.provisioning(reimaged, await agent.progressOf(reimaged))?.state).toBe('updating')
    expect(
      (await as('0', req('POST', '/metadata/osroll/extensions/0/status?goal=vm0-os1-g1&exit=0')))
        .body,
    ).toBe('ignored\n')
    expect((await as('0', req('GET', '/metadata/osroll/extensions/next'))).body).toBe(
      'run vm0-os2-g1 0 60 0\necho zero\n',
    )
  })

  it('takes the in-guest Application Health of a set whose health source is the extension', async () => {
    const root = join(dir, 'b')
    const state = new MemoryQemuState()
    let now = 0
    const agent = new GuestAgentEndpoint({ rootDir: root, state, nowMs: () => now })
    const check: HealthCheck = {
      protocol: 'http',
      port: 8080,
      requestPath: '/health',
      intervalMs: 5000,
      threshold: 1,
      mode: 'rich',
      gracePeriodMs: 60_000,
    }
    const vm = record('0', { extensions: [health], healthSource: 'extension', healthCheck: check })
    await state.put(vm)
    await mkdir(vmDir(root, 'set', '0'), { recursive: true })
    const as = (r: MetadataRequest) => agent.answer({ scaleSetKey: 'set', instanceId: '0' }, r)
    expect((await as(req('GET', '/metadata/osroll/extensions/next'))).body).toBe(
      'done vm0-os1-g1 http 8080 /health 5 1 rich\n',
    )
    expect(
      (await as(req('POST', '/metadata/osroll/health?goal=vm0-os1-g1&result=bogus'))).status,
    ).toBe(400)
    expect(
      (await as(req('POST', '/metadata/osroll/health?goal=vm0-os1-g1&result=unhealthy&count=1')))
        .body,
    ).toBe('goal vm0-os1-g1\n')
    expect(agent.health(vm, await agent.progressOf(vm))).toBe('unhealthy')
    const burst = []
    for (let n = 0; n < 25; n++)
      burst.push((await as(req('GET', '/metadata/osroll/extensions'))).status)
    expect(burst.filter((s) => s === 429).length).toBe(25 - (20 - 3)) // 20 a second, 3 sent before
    now = 31_000 // no report for 30 s: the host's probe decides again
    expect(agent.health(vm, await agent.progressOf(vm))).toBeUndefined()
    expect(
      agent.health({ ...vm, healthSource: 'probe' }, await agent.progressOf(vm)),
    ).toBeUndefined()
  })

  it('fetches fileUris on the host and serves them to their VM only; a failed download fails the extension', async () => {
    // 127.93.0.0/16 is this test's range of loopback addresses.
    const server = createServer((rq, rs) => {
      if (rq.url?.startsWith('/tools/hello.sh')) rs.end('echo hello from a fetched file\n')
      else rs.writeHead(404).end()
    })
    await new Promise<void>((r) => server.listen(0, '127.93.0.1', r))
    const port = (server.address() as AddressInfo).port
    try {
      const root = join(dir, 'c')
      const state = new MemoryQemuState()
      const agent = new GuestAgentEndpoint({
        rootDir: root,
        state,
        nowMs: () => 1000,
        downloads: { fileRoots: [], maxBytes: 1024, allowLocal: true },
      })
      const script = (uri: string) =>
        ext('install', { settings: { fileUris: [uri], commandToExecute: 'sh hello.sh' } })
      const vm0 = record('0', {
        extensions: [script(`http://127.93.0.1:${port}/tools/hello.sh?sig=secret`)],
      })
      const vm1 = record('1', {
        extensions: [script(`http://127.93.0.1:${port}/missing.sh?sig=secret`)],
      })
      for (const r of [vm0, vm1]) {
        await state.put(r)
        await mkdir(vmDir(root, 'set', r.instanceId), { recursive: true })
      }
      const as = (id: string, r: MetadataRequest) =>
        agent.answer({ scaleSetKey: 'set', instanceId: id }, r)
      const nextOf = async (id: string) => {
        for (let n = 0; n < 100; n++) {
          const body = (await as(id, req('GET', '/metadata/osroll/extensions/next'))).body
          if (!body.startsWith('wait ')) return body
          await new Promise((r) => setTimeout(r, 60))
        }
        throw new Error(`VM ${id} was told to wait for 6 s`)
      }
      expect((await as('0', req('GET', '/metadata/osroll/extensions/next'))).body).toBe(
        'wait vm0-os1-g1\n',
      )
      expect(await nextOf('0')).toBe('run vm0-os1-g1 0 59 1\nsh hello.sh\n')
      const list = await as('0', req('GET', '/metadata/osroll/extensions/0/files?goal=vm0-os1-g1'))
      expect(list.body).toBe('0 hello.sh\n')
      const file = await as(
        '0',
        req('GET', '/metadata/osroll/extensions/0/files/0?goal=vm0-os1-g1'),
      )
      expect(file).toMatchObject({ status: 200, contentType: 'application/octet-stream' })
      expect(readFileSync(file.file as string, 'utf8')).toBe('echo hello from a fetched file\n')
      // Another VM naming VM 0's goal, or a file that is not there: nothing.
      for (const url of [
        '/metadata/osroll/extensions/0/files/0?goal=vm0-os1-g1',
        '/metadata/osroll/extensions/0/files?goal=vm0-os1-g1',
      ])
        expect((await as('1', req('GET', url))).status).toBe(404)
      expect(
        (await as('0', req('GET', '/metadata/osroll/extensions/0/files/1?goal=vm0-os1-g1'))).status,
      ).toBe(404)

      // VM 1's URI answers 404: the extension fails as on local, its token never shown.
      expect(await nextOf('1')).toBe('done vm1-os1-g1 none\n')
      const failed = agent.provisioning(vm1, await agent.progressOf(vm1))
      const message = `Failed to download file 'http://127.93.0.1:${port}/missing.sh?***': the server answered HTTP 404`
      expect(failed).toMatchObject({
        state: 'failed',
        extensions: [{ name: 'install', state: 'failed', message }],
      })
      expect(failed?.error).toBe(
        `VM has reported a failure when processing extension 'install'. Error message: "${message}"`,
      )
    } finally {
      server.close()
    }
  })
})
