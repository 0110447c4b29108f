/**
 * Builds versions of the sample web image (examples/images/web) for tests and imports them into
 * a content-addressed store, as publishing does.
 */
import { cpSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { importArtifact } from '../src/fabrics/host/artifacts.js'
import type { ImageArtifact } from '../src/fabrics/types/fabric.js'

export const SAMPLE_WEB = fileURLToPath(new URL('../examples/images/web', import.meta.url))

/** A copy of the sample image with this behaviour; returns its file:// URI. */
export function sampleImage(
  workDir: string,
  o: {
    version: string
    health?: 'healthy' | 'unhealthy'
    initializingSeconds?: number
    port?: number
    /** The share of `GET /` answered 500 (a broken-but-healthy version); default 0. */
    errorRate?: number
  },
): string {
  const dir = join(
    workDir,
    `web-${o.version}-${o.health ?? 'healthy'}${o.errorRate ? `-errors${o.errorRate}` : ''}`,
  )
  mkdirSync(workDir, { recursive: true })
  cpSync(SAMPLE_WEB, dir, { recursive: true })
  writeFileSync(
    join(dir, 'image.json'),
    JSON.stringify({
      version: o.version,
      health: o.health ?? 'healthy',
      initializingSeconds: o.initializingSeconds ?? 0,
      port: o.port ?? 8080,
      ...(o.errorRate ? { errorRate: o.errorRate } : {}),
    }),
  )
  return pathToFileURL(dir).href
}

/** Builds and imports a sample version, as an ImageArtifact the local fabric boots. */
export async function importedSample(
  workDir: string,
  casDir: string,
  o: { version: string; health?: 'healthy' | 'unhealthy'; port?: number },
): Promise<ImageArtifact> {
  const digest = await importArtifact(sampleImage(workDir, o), casDir)
  return { version: o.version, label: `web:${o.version}`, sourceUri: `cas:${digest}` }
}
