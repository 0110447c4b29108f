/**
 * The qemu fabric on real QEMU VMs (TCG here): the shared Fabric contract, then what only VMs
 * show — a data disk that survives reimage and rollback (the guest counts its boots there),
 * custom data once per OS disk, a kernel that cannot boot quoted from the console, bad
 * artifacts refused. Skipped, saying why, where QEMU or the Debian kernel package is missing.
 */
import { execFileSync } from 'node:child_process'
import { availableParallelism } from 'node:os'
import { createServer } from 'node:http'
import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { mkdir } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Prober } from '../../health/prober.js'
import { fabricModel } from '../../../test-support/builders.js'
import { runFabricContract } from '../fabric.contract.js'
import type { ImageArtifact, InstanceView } from '../types/fabric.js'
import type { GuestIdentity, GuestMetadata } from '../types/metadata.js'
import { findMarked } from '../host/processes.js'
import { QemuFabric, QEMU_TOOLS } from './qemu-fabric.js'
import { FileQemuState, MemoryQemuState, vmDir } from './qemu-state.js'
import { buildSampleImage } from './sample-image.js'
import { findTool } from './tools.js'
import { computerName } from '../../core/scale-set/placement.js'

const work = mkdtempSync(join(tmpdir(), 'osroll-qemu-'))
const CACHE = join(tmpdir(), 'osroll-kernel-cache')
const missing = [...QEMU_TOOLS, 'apt-get', 'busybox', 'debugfs'].filter((t) => !findTool(t))
const cleanups: (() => Promise<void>)[] = []
afterAll(async () => {
  for (const c of cleanups) await c()
  rmSync(work, { recursive: true, force: true })
})

const built = new Map<string, string>()
/** Builds (once per test file) a sample version and returns its file:// URI. */
async function sample(version: string, health: 'healthy' | 'unhealthy' = 'healthy') {
  const key = `${version}-${health}`
  if (!built.has(key)) {
    const out = join(work, 'src', key)
    await buildSampleImage({ version, health, outDir: out, cacheDir: CACHE })
    built.set(key, pathToFileURL(out).href)
  }
  return built.get(key) as string
}

let slice = 0
async function harness(o: { metadata?: GuestMetadata } = {}) {
  const root = join(work, `h${slice}`)
  const addressStart = 41_000 + 64 * slice++
  const prober = new Prober({ tickMs: 50 })
  const options = {
    rootDir: join(root, 'vms'),
    casDir: join(work, 'images'),
    state: new MemoryQemuState(),
    prober,
    addressStart,
    stopGraceMs: 3000,
    ...(o.metadata ? { metadata: o.metadata } : {}),
  }
  const fabric = new QemuFabric(options)
  const model = fabricModel({
    healthSource: 'probe',
    healthCheck: {
      protocol: 'http',
      port: 8080,
      requestPath: '/health',
      intervalMs: 250,
      threshold: 1,
      mode: 'binary',
      gracePeriodMs: 0,
    },
  })
  const artifact = async (version: string, health?: 'unhealthy'): Promise<ImageArtifact> => ({
    version,
    label: `sample:${version}`,
    sourceUri: await fabric.prepareSource(await sample(version, health)),
  })
  const images = {
    v1: await artifact('1.0.0'),
    v2: await artifact('1.1.0'),
    broken: await artifact('1.2.0', 'unhealthy'),
  }
  const until = async (check: (v: readonly InstanceView[]) => boolean, what: string) => {
    const end = Date.now() + 60_000
    while (Date.now() < end) {
      const views = await fabric.listInstances(model.scaleSetKey)
      if (check(views)) return views
      await new Promise((r) => setTimeout(r, 100))
    }
    throw new Error(
      `qemu fabric never reached: ${what}; last: ${JSON.stringify(await fabric.listInstances(model.scaleSetKey))}`,
    )
  }
  const close = async () => {
    const views = await fabric.listInstances(model.scaleSetKey)
    await fabric.deleteInstances(
      model.scaleSetKey,
      views.map((v) => v.instanceId),
    )
    await fabric.close()
    prober.close()
  }
  cleanups.push(close)
  return { fabric, model, images, until, close, root, addressStart, options }
}

async function waitUntil(check: () => boolean, what: string, ms = 60_000): Promise<void> {
  const end = Date.now() + ms
  while (!check()) {
    if (Date.now() > end) throw new Error(`never reached: ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

async function answer(ip: string): Promise<string> {
  const r = await fetch(`http://${ip}:8080/`, { signal: AbortSignal.timeout(3000) })
  return r.text()
}

describe.skipIf(missing.length > 0)(`qemu fabric (needs ${QEMU_TOOLS.join(', ')})`, () => {
  beforeAll(async () => {
    await mkdir(CACHE, { recursive: true })
  }, 120_000)

  runFabricContract('qemu', () => harness())

  it(
    'keeps the data disk and the address across reimage and rollback; custom data once per OS disk',
    { timeout: 180_000 },
    async () => {
      const h = await harness()
      const script = '#!/bin/sh\necho "custom data ran" >> /data/0/custom-data-runs\n'
      const model = { ...h.model, customData: Buffer.from(script).toString('base64') }
      const ok = (v?: InstanceView) => v?.health === 'healthy' && v.provisioning === 'succeeded'
      await h.fabric.createInstances(model, [
        { instanceId: '0', zone: null, updateDomain: 0, faultDomain: 0, image: h.images.v1 },
      ])
      const [first] = await h.until((vs) => ok(vs[0]), 'healthy on 1.0.0')
      expect(await answer(first!.privateIp)).toMatch(/runs image 1\.0\.0; boot 1/)
      await h.fabric.reimage(model, ['0'], h.images.v2)
      const [second] = await h.until(
        (vs) => ok(vs[0]) && vs[0]!.osImageVersion === '1.1.0',
        'healthy on 1.1.0',
      )
      expect(second!.privateIp).toBe(first!.privateIp)
      expect(second!.dataDisks).toEqual(first!.dataDisks)
      expect(await answer(second!.privateIp)).toMatch(/runs image 1\.1\.0; boot 2/)
      await h.fabric.restore(model.scaleSetKey, ['0'])
      const [back] = await h.until(
        (vs) => ok(vs[0]) && vs[0]!.osImageVersion === '1.0.0',
        'back on 1.0.0',
      )
      // The restored disk ran its custom data already: two runs in all, boot 3 on data disk 0.
      expect(await answer(back!.privateIp)).toMatch(/runs image 1\.0\.0; boot 3/)
      const log = await h.fabric.consoleLog(model.scaleSetKey, '0', 4096)
      expect(log).toContain('osroll-guest: ready on port 8080, boot 3')
      expect(log?.match(/custom data exited 0/g)?.length).toBe(2)
      await h.close()
      expect(findMarked((root) => root.startsWith(work))).toEqual([])
    },
  )

  it(
    'a guest reaches the metadata service at 169.254.169.254 as itself only, again after a restart',
    { timeout: 240_000 },
    async () => {
      // A recording service: it answers each request with the identity the fabric bound it to.
      const recorder = () => {
        const seen: { guest: GuestIdentity; url: string }[] = []
        const metadata: GuestMetadata = {
          answer: async (guest, r) => {
            seen.push({ guest, url: r.url })
            const body = JSON.stringify({ instanceId: guest.instanceId })
            return { status: 200, contentType: 'application/json; charset=utf-8', body }
          },
        }
        return { seen, metadata }
      }
      const first = recorder()
      const h = await harness({ metadata: first.metadata })
      // Each guest asks as itself, then forges another VM's identity every way it can: a path,
      // a query, headers naming instance 1 or 0, another Host. Then it polls scheduled events.
      const script = [
        '#!/bin/sh',
        'me=$(hostname); other=1; [ "$(sed -n "s/^osroll-instance: *//p" /run/seed/meta-data)" = 1 ] && other=0',
        'ask() { printf "GET %s HTTP/1.0\r\nMetadata: true\r\n%s\r\n" "$1" "$2" | nc 169.254.169.254 80 | tail -n 1; }',
        'for q in "/metadata/instance?api-version=2021-02-01&from=$me" "/metadata/instance/$other?from=$me" "/metadata/instance?instanceId=$other&from=$me"; do',
        '  echo "IMDS $(ask "$q" "X-Instance: $other\r\nHost: vm-$other\r\n")" > /dev/ttyS0',
        'done',
        'touch /var/lib/osroll/approve-scheduled-events',
      ].join('\n')
      const model = { ...h.model, customData: Buffer.from(script).toString('base64') }
      const specs = ['0', '1'].map((instanceId) => ({
        instanceId,
        zone: null,
        updateDomain: Number(instanceId),
        faultDomain: 0,
        image: h.images.v1,
      }))
      await h.fabric.createInstances(model, specs)
      const ok = (v?: InstanceView) => v?.health === 'healthy' && v.provisioning === 'succeeded'
      await h.until((vs) => vs.length === 2 && vs.every(ok), 'two healthy VMs')
      for (const id of ['0', '1']) {
        const log = (await h.fabric.consoleLog(model.scaleSetKey, id, 16_384)) ?? ''
        const answers = log.split(/\r?\n/).filter((l) => l.startsWith('IMDS '))
        expect(answers, log).toEqual(Array(3).fill(`IMDS {"instanceId":"${id}"}`))
      }
      const computer = (id: string) => computerName(model.computerNamePrefix, id)
      for (const s of first.seen.filter((x) => x.url.includes('from=')))
        expect(s.url).toContain(`from=${computer(s.guest.instanceId)}`)
      expect(first.seen.filter((x) => x.url.includes('from=')).length).toBe(6)
      const polled = (seen: typeof first.seen, id: string) =>
        seen.some((x) => x.guest.instanceId === id && x.url.startsWith('/metadata/scheduledevents'))
      await waitUntil(() => polled(first.seen, '0') && polled(first.seen, '1'), 'both polling')

      // osroll stops (its sockets close; the VMs run on), another one adopts them.
      await h.fabric.close()
      const second = recorder()
      const b = new QemuFabric({ ...h.options, metadata: second.metadata })
      try {
        expect(await b.adopt()).toEqual({ adopted: 2, restarted: 0 })
        await waitUntil(() => polled(second.seen, '0') && polled(second.seen, '1'), 'reattached')
        expect(second.seen.every((x) => !x.url.includes('from='))).toBe(true)
      } finally {
        await b.deleteInstances(model.scaleSetKey, ['0', '1'])
        await b.close()
      }
    },
  )

  it(
    'a restarted control plane re-adopts live VMs and stops a VM no record names before restarting it',
    { timeout: 180_000 },
    async () => {
      const root = join(work, 'adopt')
      const prober = new Prober({ tickMs: 50 })
      const make = () =>
        new QemuFabric({
          rootDir: join(root, 'vms'),
          casDir: join(work, 'images'),
          state: new FileQemuState(join(root, 'vms')),
          prober,
          addressStart: 42_000,
          stopGraceMs: 3000,
        })
      const h = await harness()
      const model = h.model
      const a = make()
      const ok = (v?: InstanceView) => v?.health === 'healthy' && v.provisioning === 'succeeded'
      const until = async (f: QemuFabric, check: (v?: InstanceView) => boolean) => {
        for (let n = 0; n < 600; n++) {
          const [v] = await f.listInstances(model.scaleSetKey)
          if (check(v)) return v!
          await new Promise((r) => setTimeout(r, 100))
        }
        throw new Error('never reached')
      }
      const marked = () => findMarked((r) => r === join(root, 'vms'))
      try {
        await a.createInstances(model, [
          { instanceId: '0', zone: null, updateDomain: 0, faultDomain: 0, image: h.images.v1 },
        ])
        const v = await until(a, ok)
        // The control plane goes away; another one starts on the same data dir.
        const b = make()
        expect(await b.adopt()).toEqual({ adopted: 1, restarted: 0 })
        expect(await answer(v.privateIp)).toMatch(/boot 1/)
        expect(marked()).toHaveLength(1)
        // A crash between the spawn and its record: the VM runs, no record names it.
        const state = new FileQemuState(join(root, 'vms'))
        const [rec] = await state.getMany(model.scaleSetKey, ['0'])
        await state.put({ ...rec!, process: null, spawning: null })
        const c = make()
        expect(await c.adopt()).toEqual({ adopted: 0, restarted: 1 })
        await until(c, ok)
        expect(await answer(v.privateIp)).toMatch(/runs image 1\.0\.0; boot 2/)
        expect(marked()).toHaveLength(1)
        await c.deleteInstances(model.scaleSetKey, ['0'])
        expect(marked()).toEqual([])
      } finally {
        await make().deleteInstances(model.scaleSetKey, ['0'])
        prober.close()
        await h.close()
      }
    },
  )

  it(
    "gives a VM its size's memory and vCPUs (at most the host's) and each data disk its size",
    { timeout: 120_000 },
    async () => {
      const h = await harness()
      // Standard_D4s_v3: 4 vCPUs, 16 GiB. Data disk 0 is 2 TiB (its ext4 covers the first TiB),
      // data disk 1 gives no size and gets the fabric's 256 MiB.
      const model = {
        ...h.model,
        vmSize: { name: 'Standard_D4s_v3', vCPUs: 4, memoryMB: 16_384 },
        dataDiskLuns: [0, 1],
        dataDiskSizesGB: { '0': 2048 },
      }
      await h.fabric.createInstances(model, [
        { instanceId: '0', zone: null, updateDomain: 0, faultDomain: 0, image: h.images.v1 },
      ])
      const [v] = await h.until(
        (vs) => vs[0]?.health === 'healthy' && vs[0].provisioning === 'succeeded',
        'healthy on 1.0.0',
      )
      expect(await answer(v!.privateIp)).toMatch(/runs image 1\.0\.0; boot 1/)
      expect(v!.dataDisks.map((d) => [d.lun, d.sizeGB])).toEqual([
        [0, 2048],
        [1, undefined],
      ])
      const [vm] = findMarked((root) => root === join(h.root, 'vms'))
      const args = readFileSync(`/proc/${vm!.pid}/cmdline`, 'utf8').split('\0')
      const after = (flag: string) => args[args.indexOf(flag) + 1]
      expect(after('-m')).toBe('16384')
      expect(after('-smp')).toBe(String(Math.min(4, availableParallelism())))
      const disk = (lun: number) =>
        JSON.parse(
          execFileSync('qemu-img', [
            'info',
            '-U', // the running VM holds the image's write lock
            '--output=json',
            join(vmDir(join(h.root, 'vms'), model.scaleSetKey, '0'), 'disks', `data-${lun}.qcow2`),
          ]).toString(),
        ) as { 'virtual-size': number; 'actual-size': number }
      expect(disk(0)['virtual-size']).toBe(2048 * 2 ** 30)
      expect(disk(0)['actual-size']).toBeLessThan(64 * 2 ** 20) // sparse: metadata only
      expect(disk(1)['virtual-size']).toBe(256 * 2 ** 20)
      await h.close()
    },
  )

  it(
    'a VM that cannot boot fails provisioning quoting its console',
    { timeout: 120_000 },
    async () => {
      const h = await harness()
      // A disk that is not ext4: the initramfs says so on the console and powers off.
      const out = join(work, 'src', 'no-fs')
      await mkdir(out, { recursive: true })
      const good = new URL(await sample('1.0.0')).pathname
      for (const f of ['vmlinuz', 'initrd.img', 'manifest.json'])
        copyFileSync(join(good, f), join(out, f))
      execFileSync('qemu-img', ['create', '-q', '-f', 'qcow2', join(out, 'disk.qcow2'), '64M'])
      const bad: ImageArtifact = {
        version: '9.9.9',
        label: 'sample:9.9.9',
        sourceUri: await h.fabric.prepareSource(pathToFileURL(out).href),
      }
      await h.fabric.createInstances(h.model, [
        { instanceId: '0', zone: null, updateDomain: 0, faultDomain: 0, image: bad },
      ])
      const [v] = await h.until((vs) => vs[0]?.provisioning === 'failed', 'provisioning failed')
      expect(v!.provisioningError).toContain('The virtual machine stopped on image sample:9.9.9')
      expect(v!.provisioningError).toContain('holds no ext4 file system')
      await h.close()
    },
  )

  it(
    'an address whose port another program holds fails provisioning, naming the address and the holder',
    { timeout: 60_000 },
    async () => {
      const h = await harness()
      const n = h.addressStart
      const ip = `127.77.${n >> 8}.${n & 255}` // the first address this fabric hands out
      const squatter = createServer((_req, res) => res.end('not a VM'))
      await new Promise<void>((r) => squatter.listen(8080, ip, r))
      try {
        await h.fabric.createInstances(h.model, [
          { instanceId: '0', zone: null, updateDomain: 0, faultDomain: 0, image: h.images.v1 },
        ])
        const [v] = await h.until((vs) => vs[0]?.provisioning === 'failed', 'provisioning failed')
        expect(v!.privateIp).toBe(ip)
        expect(v!.provisioningError).toContain(`its address ${ip} is already in use`)
        expect(v!.provisioningError).toContain(`held by pid ${process.pid}`)
        expect(await (await fetch(`http://${ip}:8080/`)).text()).toBe('not a VM')
      } finally {
        await new Promise((r) => squatter.close(r))
        await h.close()
      }
    },
  )

  it('refuses artifacts that cannot boot, saying why', { timeout: 60_000 }, async () => {
    const h = await harness()
    const dir = (name: string) => {
      const d = join(work, 'bad', name)
      rmSync(d, { recursive: true, force: true })
      return d
    }
    const noManifest = dir('no-manifest')
    await mkdir(noManifest, { recursive: true })
    writeFileSync(join(noManifest, 'vmlinuz'), 'x')
    await expect(h.fabric.prepareSource(pathToFileURL(noManifest).href)).rejects.toThrow(
      /no manifest\.json/,
    )
    const good = new URL(await sample('1.0.0')).pathname
    const noKernel = dir('no-kernel')
    cpSync(good, noKernel, { recursive: true })
    rmSync(join(noKernel, 'vmlinuz'))
    await expect(h.fabric.prepareSource(pathToFileURL(noKernel).href)).rejects.toThrow(
      /kernel 'vmlinuz' \(manifest\.json\) is missing/,
    )
    const corrupt = dir('corrupt')
    cpSync(good, corrupt, { recursive: true })
    writeFileSync(join(corrupt, 'disk.qcow2'), 'QFI\xfb this is not a qcow2 image')
    await expect(h.fabric.prepareSource(pathToFileURL(corrupt).href)).rejects.toThrow(
      /disk cannot be read as qcow2/,
    )
    const unknown = dir('unknown-format')
    cpSync(good, unknown, { recursive: true })
    writeFileSync(join(unknown, 'manifest.json'), JSON.stringify({ format: 'ovf/2' }))
    await expect(h.fabric.prepareSource(pathToFileURL(unknown).href)).rejects.toThrow(
      /format "ovf\/2" is unknown/,
    )
    expect(existsSync(join(work, 'images'))).toBe(true)
    await h.close()
  })
})

describe.skipIf(missing.length === 0)('qemu fabric without its tools', () => {
  it('says which Debian packages to install', () => {
    expect(() => new QemuFabric({} as never)).toThrow(/apt-get install/)
  })
})
