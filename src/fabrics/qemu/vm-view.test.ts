/**
 * The qemu instance view's accelerator, without a VM: a stand-in process whose command line
 * carries `-accel kvm` (as QEMU's does) shows what it was started under, and why.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { Prober } from '../../health/prober.js'
import { startProcess, stopProcess, type ProcessRef } from '../host/processes.js'
import { GuestAgentEndpoint } from './guest-agent-endpoint.js'
import { MemoryQemuState, type QemuInstance } from './qemu-state.js'
import { vmView } from './vm-view.js'

const dir = mkdtempSync(join(tmpdir(), 'osroll-vm-view-'))
const prober = new Prober({ tickMs: 1000 })
const started: ProcessRef[] = []
afterAll(async () => {
  for (const p of started) await stopProcess(p, 1000)
  prober.close()
  rmSync(dir, { recursive: true, force: true })
})

const record = (process: QemuInstance['process']): QemuInstance => ({
  scaleSetKey: 'set',
  instanceId: '0',
  vmId: 'vm0',
  zone: null,
  updateDomain: 0,
  faultDomain: 0,
  privateIp: '127.93.0.2',
  computerName: 'web000000',
  disk: { n: 1, digest: 'd', version: '1.0.0', label: 'l', modelGeneration: 1, startedAtMs: 0 },
  previous: null,
  process,
  spawning: null,
  wantRunning: true,
  provisioning: { state: 'succeeded', error: null },
  dataDisks: [],
  healthCheck: null,
  customData: null,
})

describe('the accelerator in the qemu instance view', () => {
  it('says what a running VM was started under and why; a stopped one says nothing', async () => {
    // `sh -c 'sleep 30' -accel kvm`: the shell ignores the last two words, /proc shows them.
    const ref = await startProcess({
      command: 'sh',
      args: ['-c', 'sleep 30', '-accel', 'kvm'],
      cwd: dir,
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
      logFile: join(dir, 'log'),
    })
    started.push(ref)
    const agent = new GuestAgentEndpoint({
      rootDir: dir,
      state: new MemoryQemuState(),
      nowMs: () => 0,
    })
    const c = {
      prober,
      agent,
      accel: 'tcg' as const,
      accelReason: 'measured: KVM 900 ms, TCG 400 ms',
    }
    const proc = { ...ref, spawnId: 's' }
    expect(vmView(record({ ...proc, accel: 'tcg' }), null, c).accelerator).toEqual({
      accel: 'tcg',
      reason: 'measured: KVM 900 ms, TCG 400 ms',
    })
    // An older record names no accelerator: the process's command line does.
    expect(vmView(record(proc), null, c).accelerator).toEqual({
      accel: 'kvm',
      reason: 'started under KVM by an earlier osroll (this one chose TCG)',
    })
    await stopProcess(ref, 1000)
    const stopped = vmView(record({ ...proc, accel: 'tcg' }), null, c)
    expect(stopped.power).toBe('stopped')
    expect(stopped.accelerator).toBeUndefined()
  })
})
