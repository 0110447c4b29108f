/**
 * What `osroll demo` does differently on each fabric (docs/operations.md § The demo): the
 * server's flags, the set's size, how long each step may take, and how a sample version is
 * made — the `local` sample's directory copied, or on `qemu` a bootable VM image built from
 * Debian packages (`fabrics/qemu/sample-image.ts`, its kernel cached as `image sample` does).
 */
import { cpSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { buildSampleImage } from '../fabrics/qemu/sample-image.js'

const LOCAL_SAMPLE = fileURLToPath(new URL('../../examples/images/web', import.meta.url))

export type DemoFabricName = 'local' | 'qemu'

export type DemoFabric = Readonly<{
  name: DemoFabricName
  /** How the start line names it. */
  label: string
  capacity: number
  /** Server flags beyond the demo's own (`loadConfig`'s names). */
  flags: Readonly<Record<string, string>>
  healthDeadline: string
  /** How long the first fleet has to become healthy, and each rollout to end. */
  healthyMs: number
  rolloutMs: number
  /** Makes version `version` under `dataDir` and returns its source URI. */
  publish: (
    dataDir: string,
    version: string,
    health: 'healthy' | 'unhealthy',
    say: (line: string) => void,
  ) => Promise<string>
}>

/**
 * The demo's fabric. On `qemu` every instance is a VM booting under TCG or KVM (`--qemu-accel`),
 * so the set is smaller (4 VMs take about 1 GiB here) and every step gets more time.
 * @example demoFabric('qemu', {}).capacity === 4
 */
export function demoFabric(
  name: DemoFabricName,
  o: Readonly<{ instances?: number; qemuAccel?: string; cacheDir?: string }>,
): DemoFabric {
  if (name === 'local')
    return {
      name,
      label: 'local fabric (each instance a process)',
      capacity: o.instances ?? 10,
      flags: {},
      healthDeadline: 'PT15S',
      healthyMs: 60_000,
      rolloutMs: 120_000,
      publish: async (dataDir, version, health) => {
        const dir = join(dataDir, 'sources', version)
        cpSync(LOCAL_SAMPLE, dir, { recursive: true })
        writeFileSync(join(dir, 'image.json'), JSON.stringify({ version, health, port: 8080 }))
        return pathToFileURL(dir).href
      },
    }
  const cacheDir = o.cacheDir ?? join(homedir(), '.cache', 'osroll')
  return {
    name,
    label: 'qemu fabric (each instance a QEMU virtual machine)',
    capacity: o.instances ?? 4,
    flags: { qemuAccel: o.qemuAccel ?? 'auto' },
    healthDeadline: 'PT60S',
    healthyMs: 240_000,
    rolloutMs: 480_000,
    publish: async (dataDir, version, health, say) => {
      const dir = join(dataDir, 'sources', version)
      say(`   building a bootable sample VM image ${version} (Debian cloud kernel, busybox)`)
      await buildSampleImage({ version, health, outDir: dir, cacheDir })
      return pathToFileURL(dir).href
    },
  }
}
