/**
 * `npm run bench [-- --json]` (issue 8): every benchmark, one after the other, each as its own
 * process (a fresh heap and event loop). Each prints its table; with --json the last line is one
 * JSON object merging all their figures. Figures the issue asks for that no benchmark measures
 * yet are listed by name on stderr, never invented.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const json = process.argv.includes('--json')
const only = process.argv
  .find((a) => a.startsWith('--only='))
  ?.slice(7)
  .split(',')
const BENCHES = [
  // First: what this machine does today on fixed work, printed beside every absolute figure.
  'calibration',
  'engine',
  'plan',
  'api',
  'local',
  'qemu',
  'ansible',
  'fleet',
  'control-plane',
  'dashboard',
].filter((b) => !only || only.includes(b))
const WANTED = [
  'local.overhead_ratio',
  'qemu.overhead_ratio',
  'qemu.reimage_over_cold_boot',
  'sim.sqlite.instance_upgrades_per_s',
  'sim.postgres.instance_upgrades_per_s',
  'detect_to_first_reimage_ms',
  'api.get_rps',
  'api.get_p99_ms',
  'api.p99_during_rollout_ms',
  'rss_mb_10k_instances',
  'ansible_over_osroll_wall_ratio',
  'plan_ms',
  'calibration.cpu_ms',
  'calibration.sqlite_commits_per_s',
]

const merged: Record<string, number> = {}
let failed = 0
for (const name of BENCHES) {
  process.stderr.write(`\n== bench:${name}\n`)
  const out = await run(['--import', 'tsx', `bench/${name}.bench.ts`, '--json'])
  if (out.code !== 0) {
    failed++
    process.stderr.write(`bench:${name} failed (exit ${out.code})\n`)
    continue
  }
  const lines = out.stdout.trimEnd().split('\n')
  const last = lines.pop() ?? '{}'
  console.log(lines.join('\n'))
  Object.assign(merged, JSON.parse(last) as Record<string, number>)
}
const missing = WANTED.filter((k) => !(k in merged))
if (missing.length > 0) process.stderr.write(`\nnot measured: ${missing.join(', ')}\n`)
if (json) console.log(JSON.stringify(merged))
process.exit(failed === 0 ? 0 : 1)

function run(args: string[]): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
    let stdout = ''
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()))
    child.on('close', (code) => resolve({ code: code ?? 1, stdout }))
  })
}
