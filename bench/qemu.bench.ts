/**
 * qemu-fabric benchmarks (issue 19), printed, never asserted. Real VMs under this machine's
 * accelerator (TCG here), driven through the fabric itself, not the API:
 * - 10 VMs reimaged 1.0.0 → 1.1.0, 2 at a time: wall time (each batch ends when the fabric's
 *   prober reports both healthy) ÷ the physical critical path (Σ over batches of the slowest VM's
 *   reimage call → first healthy answer, polled every 20 ms straight at the VM);
 * - a reimage (powerdown, new overlay, boot to healthy) against a cold boot of the same image;
 * - RSS per VM (QEMU's resident memory, /proc).
 * `-- --json` ends with one JSON line. Every VM it starts is deleted in a finally.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { Prober } from '../src/health/prober.js'
import { QemuFabric } from '../src/fabrics/qemu/qemu-fabric.js'
import { MemoryQemuState } from '../src/fabrics/qemu/qemu-state.js'
import { buildSampleImage } from '../src/fabrics/qemu/sample-image.js'
import type { FabricModel, ImageArtifact, InstanceView } from '../src/fabrics/types/fabric.js'
import { findMarked } from '../src/fabrics/host/processes.js'

const json = process.argv.includes('--json')
const VMS = Number(process.env['OSROLL_BENCH_VMS'] ?? 10)
const BATCH = 2
const work = mkdtempSync(join(tmpdir(), 'osroll-bench-qemu-'))
const prober = new Prober({ tickMs: 20 })
const fabric = new QemuFabric({
  rootDir: join(work, 'vms'),
  casDir: join(work, 'images'),
  state: new MemoryQemuState(),
  prober,
  addressStart: 50_000,
  stopGraceMs: 3000,
})
const model: FabricModel = {
  scaleSetKey: '/bench/qemu',
  computerNamePrefix: 'vm',
  modelGeneration: 1,
  customData: null,
  dataDiskLuns: [0],
  extensions: [],
  healthSource: 'probe',
  healthCheck: {
    protocol: 'http',
    port: 8080,
    requestPath: '/health',
    intervalMs: 300,
    threshold: 1,
    mode: 'binary',
    gracePeriodMs: 0,
  },
  extensionsTimeBudgetMs: 60_000,
}

try {
  const image = async (version: string): Promise<ImageArtifact> => {
    const out = join(work, `src-${version}`)
    await buildSampleImage({
      version,
      outDir: out,
      cacheDir: join(tmpdir(), 'osroll-kernel-cache'),
    })
    return {
      version,
      label: `sample:${version}`,
      sourceUri: await fabric.prepareSource(pathToFileURL(out).href),
    }
  }
  const v1 = await image('1.0.0')
  const v2 = await image('1.1.0')
  const ids = Array.from({ length: VMS }, (_, i) => String(i))

  const tFleet = performance.now()
  await fabric.createInstances(
    model,
    ids.map((id) => place(id, v1)),
  )
  await until((vs) => vs.length === VMS && vs.every(healthy))
  const fleetMs = performance.now() - tFleet
  const rssMb = qemuRssMb()

  // The rollout, BATCH at a time.
  const reimages: number[] = []
  let criticalMs = 0
  const tWall = performance.now()
  for (let b = 0; b < VMS; b += BATCH) {
    const batch = ids.slice(b, b + BATCH)
    const views = await fabric.listInstances(model.scaleSetKey)
    const per = await Promise.all(
      batch.map(async (id) => {
        const t = performance.now()
        await fabric.reimage(model, [id], v2)
        await firstHealthy(views.find((v) => v.instanceId === id)!.privateIp, '1.1.0')
        return performance.now() - t
      }),
    )
    await until((vs) =>
      batch.every((id) => {
        const v = vs.find((x) => x.instanceId === id)
        return v !== undefined && healthy(v) && v.osImageVersion === '1.1.0'
      }),
    )
    criticalMs += Math.max(...per)
    reimages.push(...per)
  }
  const wallMs = performance.now() - tWall
  // A cold boot and a reimage of one extra VM, alone, beside the same idle fleet (idle guests
  // under TCG still take CPU, so both are measured in the same conditions), three of each.
  const cold: number[] = []
  const solo: number[] = []
  for (const [n, id] of ['c0', 'c1', 'c2'].entries()) {
    let t = performance.now()
    await fabric.createInstances(model, [place(id, v1)])
    const ip = (await fabric.listInstances(model.scaleSetKey)).find(
      (v) => v.instanceId === id,
    )!.privateIp
    await firstHealthy(ip)
    cold.push(performance.now() - t)
    t = performance.now()
    await fabric.reimage(model, [id], n % 2 === 0 ? v2 : v1)
    await firstHealthy(ip, n % 2 === 0 ? '1.1.0' : '1.0.0')
    solo.push(performance.now() - t)
    await fabric.deleteInstances(model.scaleSetKey, [id])
  }
  const soloReimageMs = median(solo)
  const coldMs = median(cold)
  const figures = {
    'qemu.overhead_ratio': wallMs / criticalMs,
    'qemu.reimage_over_cold_boot': soloReimageMs / coldMs,
    'qemu.cold_boot_ms': coldMs,
    'qemu.reimage_ms': soloReimageMs,
    'qemu.reimage_in_batch_ms_median': median(reimages),
    'qemu.fleet_healthy_ms': fleetMs,
    'qemu.rss_mb_per_vm': rssMb,
  }
  const rows: [string, string, string][] = [
    [
      `${VMS} VMs rolled ${BATCH} at a time: wall ÷ physical critical path`,
      `${figures['qemu.overhead_ratio'].toFixed(3)} (${(wallMs / 1000).toFixed(1)} s ÷ ${(criticalMs / 1000).toFixed(1)} s)`,
      '≤ 1.05',
    ],
    [
      'one reimage ÷ one cold boot (same image, alone)',
      `${figures['qemu.reimage_over_cold_boot'].toFixed(2)} (${(soloReimageMs / 1000).toFixed(2)} s ÷ ${(coldMs / 1000).toFixed(2)} s)`,
      '≤ 1.1',
    ],
    ['reimage inside a batch of 2, median', `${(median(reimages) / 1000).toFixed(2)} s`, ''],
    [`${VMS} VMs created at once → all healthy`, `${(fleetMs / 1000).toFixed(1)} s`, ''],
    ['RSS per VM', `${rssMb.toFixed(0)} MiB`, ''],
  ]
  const width = Math.max(...rows.map((r) => r[0].length))
  console.log(`${'benchmark'.padEnd(width)}  ${'measured'.padEnd(30)}  goal`)
  for (const [n, v, g] of rows) console.log(`${n.padEnd(width)}  ${v.padEnd(30)}  ${g}`)
  if (json) console.log(JSON.stringify(figures))
} finally {
  const left = await fabric.listInstances(model.scaleSetKey)
  await fabric.deleteInstances(
    model.scaleSetKey,
    left.map((v) => v.instanceId),
  )
  prober.close()
  rmSync(work, { recursive: true, force: true })
}

function place(instanceId: string, image: ImageArtifact) {
  return { instanceId, zone: null, updateDomain: 0, faultDomain: 0, image }
}

function healthy(v: InstanceView): boolean {
  return v.power === 'running' && v.health === 'healthy'
}

async function until(check: (vs: readonly InstanceView[]) => boolean): Promise<void> {
  const end = Date.now() + 300_000
  while (Date.now() < end) {
    if (check(await fabric.listInstances(model.scaleSetKey))) return
    await new Promise((r) => setTimeout(r, 20))
  }
  const last = (await fabric.listInstances(model.scaleSetKey)).map((v) => ({
    id: v.instanceId,
    power: v.power,
    health: v.health,
    provisioning: v.provisioning,
    error: v.provisioningError?.slice(0, 300),
  }))
  throw new Error(`the VMs never got there: ${JSON.stringify(last)}`)
}

/** Polls the VM's /health every 20 ms until it answers 200 (on `version`, when given). */
async function firstHealthy(ip: string, version?: string): Promise<void> {
  const end = Date.now() + 120_000
  while (Date.now() < end) {
    try {
      const r = await fetch(`http://${ip}:8080/health`, { signal: AbortSignal.timeout(500) })
      const body = (await r.json()) as { version?: string }
      if (r.status === 200 && (!version || body.version === version)) return
    } catch {
      // not up yet
    }
    await new Promise((r) => setTimeout(r, 20))
  }
  throw new Error(`${ip} never answered healthy`)
}

function qemuRssMb(): number {
  const vms = findMarked((root) => root === join(work, 'vms'))
  const kb = vms.map((p) =>
    Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p.pid}/status`, 'utf8'))?.[1] ?? 0),
  )
  return kb.reduce((a, b) => a + b, 0) / 1024 / Math.max(1, vms.length)
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)] ?? 0
}
