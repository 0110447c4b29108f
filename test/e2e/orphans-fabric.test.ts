/**
 * The local fabric in process (issue 16): an address a foreign listener holds fails the
 * instance's provisioning with a message naming the address and the holder, and no process
 * starts on it; at start, the fabric stops exactly the marked processes of its own dir that no
 * record names — a recorded wrapper's child (a sandbox) and another dir's processes are left alone.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { LocalFabric } from '../../src/fabrics/local/local-fabric.js'
import { MemoryLocalState } from '../../src/fabrics/local/local-state.js'
import { record } from '../../src/fabrics/local/local-state.contract.js'
import { findMarked, isAlive, startProcess } from '../../src/fabrics/host/processes.js'
import { Prober } from '../../src/health/prober.js'
import { fabricModel } from '../../test-support/builders.js'
import { importedSample } from '../../test-support/sample-images.js'
import { instanceProcesses, stopInstanceProcesses } from '../../test-support/serve-process.js'

const roots: string[] = []
afterAll(async () => {
  for (const r of roots) {
    await stopInstanceProcesses(r)
    rmSync(r, { recursive: true, force: true })
  }
})

function fabricAt(root: string, state: MemoryLocalState, prober: Prober): LocalFabric {
  return new LocalFabric({
    rootDir: join(root, 'instances'),
    casDir: join(root, 'images'),
    state,
    prober,
    addressPrefix: '127.87',
    stopGraceMs: 1000,
  })
}

const healthCheck = {
  protocol: 'http' as const,
  port: 8080,
  requestPath: '/health',
  intervalMs: 200,
  threshold: 1,
  mode: 'binary' as const,
  gracePeriodMs: 0,
}

describe('an address already in use', () => {
  it(
    'fails provisioning naming the address and its holder; starts no process there',
    { timeout: 30_000 },
    async () => {
      const root = mkdtempSync(join(tmpdir(), 'osroll-taken-'))
      roots.push(root)
      const prober = new Prober({ tickMs: 20 })
      const fabric = fabricAt(root, new MemoryLocalState(), prober)
      const model = fabricModel({ healthCheck })
      const image = await importedSample(join(root, 'src'), join(root, 'images'), {
        version: '1.0.0',
      })
      const foreign: Server = createServer()
      await new Promise<void>((r) => foreign.listen(9999, '127.87.0.1', r)) // the first address
      try {
        await fabric.createInstances(model, [
          { instanceId: '0', zone: null, updateDomain: 0, faultDomain: 0, image },
        ])
        const [view] = await fabric.listInstances(model.scaleSetKey)
        expect(view!.privateIp).toBe('127.87.0.1')
        expect(view!.provisioning).toBe('failed')
        expect(view!.provisioningError).toContain(
          'its address 127.87.0.1 is already in use by another process, listening on 127.87.0.1:9999',
        )
        expect(view!.provisioningError).toContain(`held by pid ${process.pid}:`)
        expect(instanceProcesses(root)).toEqual([])
      } finally {
        await new Promise((r) => foreign.close(r))
      }
      // Once the address is free, reimaging starts the instance there.
      await fabric.reimage(model, ['0'], image)
      const [after] = await fabric.listInstances(model.scaleSetKey)
      expect(after!.provisioning).toBe('succeeded')
      expect(after!.power).toBe('running')
      await fabric.deleteInstances(model.scaleSetKey, ['0'])
      prober.close()
    },
  )
})

describe('stopping orphans at start', () => {
  it(
    'stops the unrecorded marked processes of its dir only, by pid and start time',
    { timeout: 30_000 },
    async () => {
      const root = mkdtempSync(join(tmpdir(), 'osroll-sweep-'))
      const other = mkdtempSync(join(tmpdir(), 'osroll-sweep-other-'))
      roots.push(root, other)
      // A shell that starts a child and waits: a process tree carrying one spawn's marker.
      const marked = (dir: string, spawnId: string) => {
        mkdirSync(dir, { recursive: true })
        writeFileSync(join(dir, 'tree'), '#!/bin/sh\nsleep 60 &\nwait\n', { mode: 0o755 })
        return startProcess({
          command: join(dir, 'tree'),
          cwd: dir,
          env: { PATH: '/usr/bin:/bin', OSROLL_FABRIC_ROOT: dir, OSROLL_SPAWN_ID: spawnId },
          logFile: join(dir, 'log'),
        })
      }
      const instances = join(root, 'instances')
      // A recorded wrapper whose child is the instance (as a sandbox runs it), and an orphan.
      const wrapper = await marked(instances, 'recorded')
      const orphan = await marked(instances, 'unrecorded')
      const foreign = await marked(join(other, 'instances'), 'unrecorded')
      const state = new MemoryLocalState()
      await state.put({ ...record('/s', '0'), process: { ...wrapper, spawnId: 'recorded' } })
      await new Promise((r) => setTimeout(r, 200)) // the children started
      const orphanTree = findMarked((r) => r === instances).filter(
        (p) => p.spawnId === 'unrecorded',
      )
      expect(orphanTree.length).toBe(2) // the shell and its sleep

      const prober = new Prober({ tickMs: 20 })
      const stopped = await fabricAt(root, state, prober).ready()
      prober.close()
      expect(stopped.map((p) => p.pid).sort()).toEqual(orphanTree.map((p) => p.pid).sort())
      for (const p of orphanTree) expect(isAlive(p)).toBe(false)
      expect(isAlive(orphan)).toBe(false)
      expect(isAlive(wrapper)).toBe(true)
      expect(instanceProcesses(root).filter((p) => p.spawnId === 'recorded').length).toBe(2)
      expect(isAlive(foreign)).toBe(true)
    },
  )
})
