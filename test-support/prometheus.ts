/**
 * The real Prometheus server (Debian's `prometheus`, /usr/bin/prometheus) for tests of the health
 * gates: started on a free loopback port with a temporary config and data dir, scraping targets
 * the test writes (file_sd, re-read within a second), every second. `stop()` kills it and removes
 * its files; call it in afterAll (it is safe to call twice, and after a failed start).
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync, renameSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const PROMETHEUS_BIN = process.env['OSROLL_TEST_PROMETHEUS'] ?? '/usr/bin/prometheus'

export type ScrapeTarget = Readonly<{ address: string; labels?: Record<string, string> }>

/** A further scrape job of fixed targets, e.g. an osroll server's `/metrics` (a token needed). */
export type ScrapeJob = Readonly<{ name: string; targets: readonly string[]; bearerToken?: string }>

export type TestPrometheus = Readonly<{
  url: string
  port: number
  /** Replaces the scraped targets (Prometheus picks the file up within about a second). */
  setTargets: (targets: readonly ScrapeTarget[]) => void
  /** One instant query's JSON answer. */
  query: (q: string) => Promise<any>
  stop: () => Promise<void>
}>

/** A free TCP port on 127.0.0.1 (bound and released; the caller binds it right after). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      s.close(() => resolve(port))
    })
  })
}

export async function startPrometheus(
  o: {
    targets?: readonly ScrapeTarget[]
    scrapeInterval?: string
    jobs?: readonly ScrapeJob[]
  } = {},
): Promise<TestPrometheus> {
  const dir = mkdtempSync(join(tmpdir(), 'osroll-prometheus-'))
  const targetsFile = join(dir, 'targets.json')
  const setTargets = (targets: readonly ScrapeTarget[]): void => {
    const groups = targets.map((t) => ({ targets: [t.address], labels: t.labels ?? {} }))
    writeFileSync(`${targetsFile}.tmp`, JSON.stringify(groups))
    renameSync(`${targetsFile}.tmp`, targetsFile) // atomic: Prometheus never reads half a file
  }
  setTargets(o.targets ?? [])
  const every = o.scrapeInterval ?? '1s'
  writeFileSync(
    join(dir, 'prometheus.yml'),
    [
      'global:',
      `  scrape_interval: ${every}`,
      `  scrape_timeout: ${every}`,
      `  evaluation_interval: ${every}`,
      'scrape_configs:',
      '  - job_name: sample',
      '    file_sd_configs:',
      `      - files: ['${targetsFile}']`,
      '        refresh_interval: 1s',
      ...(o.jobs ?? []).flatMap((j) => [
        `  - job_name: ${JSON.stringify(j.name)}`,
        ...(j.bearerToken
          ? ['    authorization:', `      credentials: ${JSON.stringify(j.bearerToken)}`]
          : []),
        '    static_configs:',
        `      - targets: ${JSON.stringify(j.targets)}`,
      ]),
      '',
    ].join('\n'),
  )
  let child: ChildProcess | null = null
  let stderr = ''
  const stop = async (): Promise<void> => {
    const c = child
    child = null
    if (c && c.exitCode === null && c.signalCode === null) {
      const exited = new Promise<void>((resolve) => c.once('exit', () => resolve()))
      c.kill('SIGTERM')
      const timer = setTimeout(() => c.kill('SIGKILL'), 5_000)
      await exited
      clearTimeout(timer)
    }
    rmSync(dir, { recursive: true, force: true })
  }
  try {
    const port = await freePort()
    const c = spawn(
      PROMETHEUS_BIN,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
        '--log.level=warn',
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    )
    child = c
    c.stderr?.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000)
    })
    const url = `http://127.0.0.1:${port}`
    const end = Date.now() + 20_000
    for (;;) {
      if (c.exitCode !== null) throw new Error(`prometheus exited (${c.exitCode}): ${stderr}`)
      const ready = await fetch(`${url}/-/ready`).then(
        (r) => r.ok,
        () => false,
      )
      if (ready) break
      if (Date.now() > end) throw new Error(`prometheus did not become ready: ${stderr}`)
      await new Promise((r) => setTimeout(r, 100))
    }
    return {
      url,
      port,
      setTargets,
      query: async (q) =>
        (await fetch(`${url}/api/v1/query?query=${encodeURIComponent(q)}`)).json(),
      stop,
    }
  } catch (err) {
    await stop()
    throw err
  }
}
