/**
 * The README's five-minute tour, run as written (issue 6): its shell block goes to bash against
 * a fresh `osroll serve` with the local fabric, with only the server's address and token in the
 * environment and `osroll` bound to this checkout's sources. Every command in it must succeed
 * and the outcome it describes must hold.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, describe, expect, it } from 'vitest'
import { startServe } from '../../test-support/serve-process.js'
import type { ServeProcess } from '../../test-support/serve-process.js'
import { runCommand } from '../../test-support/run-command.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))

/** The first ```sh block after `heading` in the README. */
export function shellBlock(markdown: string, heading: string): string {
  const from = markdown.indexOf(`\n${heading}\n`)
  if (from < 0) throw new Error(`README has no '${heading}'`)
  const section = markdown.slice(from, markdown.indexOf('\n## ', from + heading.length + 2))
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1] as string)
  const tour = blocks.find((b) => b.includes('osroll() {'))
  if (!tour) throw new Error(`no shell block defining osroll() under '${heading}'`)
  return tour
}

const dir = mkdtempSync(join(tmpdir(), 'osroll-readme-'))
let server: ServeProcess | null = null
afterAll(async () => {
  await server?.stop('SIGTERM')
  rmSync(dir, { recursive: true, force: true })
})

describe('README', () => {
  it('the five-minute tour runs as written', { timeout: 180_000 }, async () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
    const tour = shellBlock(readme, '## A five-minute tour')
    // The tour's own line binds `osroll` to bin/osroll.js (the build); here it runs the sources.
    const script = tour.replace(
      /^osroll\(\) \{.*$/m,
      `osroll() { node --import tsx "${join(ROOT, 'src/cli/main.ts')}" "$@"; }`,
    )
    expect(script).not.toBe(tour)
    server = await startServe(dir, [
      '--fabric',
      'local',
      '--health-deadline',
      'PT4S',
      '--address-range',
      '127.81.0.0/16',
    ])
    const { code, stdout, stderr } = await runCommand('bash', ['-eo', 'pipefail', '-c', script], {
      cwd: ROOT,
      timeout: 170_000,
      env: {
        ...process.env,
        OSROLL_ENDPOINT: (server as ServeProcess).url,
        OSROLL_TOKEN: (server as ServeProcess).token,
      },
    })
    expect({ code, stderr: stderr.slice(-2000) }).toEqual({ code: 0, stderr: expect.any(String) })
    // Ten instances answered on their own addresses.
    expect(stdout.match(/runs image 1\.0\.0/g)).toHaveLength(10)
    // After the 1.1.0 rollout, the instances table shows every instance on it.
    const tables = stdout.split('│ InstanceId')
    expect(tables).toHaveLength(3)
    expect((tables[2] as string).split('│ Code')[0]?.match(/│ 1\.1\.0 /g)).toHaveLength(10)
    // The history table: the Faulted 1.2.0 rollout above the Completed 1.1.0 one.
    const history = stdout.slice(stdout.lastIndexOf('│ Code'))
    expect(history).toMatch(/Faulted[^\n]*1\.2\.0/)
    expect(history).toMatch(/Completed[^\n]*1\.1\.0/)
  })
})
