/**
 * Same-run calibration (issue 24): absolute figures move with the machine, so `npm run bench`
 * prints beside them what this machine does today on fixed work: a CPU workload, SQLite's commit
 * rate with osroll's own settings (WAL, synchronous = FULL), and PostgreSQL's when
 * `OSROLL_BENCH_DATABASE_URL` or `OSROLL_TEST_DATABASE_URL` names one. Compare ratios across
 * machines, not absolute figures. Printed, never asserted.
 *
 *   npm run bench:calibration [-- --json]
 */
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import Sqlite from 'better-sqlite3'
import pg from 'pg'

const json = process.argv.includes('--json')
const figures: Record<string, number> = {}
const rows: [string, string][] = []

/** A fixed CPU workload: 200 SHA-256 rounds over 1 MiB, the median of 5 runs. */
function cpuMs(): number {
  const block = Buffer.alloc(1 << 20, 7)
  const times: number[] = []
  for (let run = 0; run < 5; run++) {
    const t0 = performance.now()
    let digest = Buffer.alloc(32)
    for (let i = 0; i < 200; i++)
      digest = createHash('sha256').update(block).update(digest).digest()
    times.push(performance.now() - t0)
    if (digest.length !== 32) throw new Error('unreachable')
  }
  return times.sort((a, b) => a - b)[2] as number
}

/** Single-row transactions per second, each committed, with the settings osroll opens SQLite with. */
function sqliteCommitsPerS(): number {
  const dir = mkdtempSync(join(tmpdir(), 'osroll-calibration-'))
  try {
    const db = new Sqlite(join(dir, 'c.db'))
    db.pragma('page_size = 8192')
    db.pragma('journal_mode = WAL')
    db.pragma('synchronous = FULL')
    db.exec('create table t (id integer primary key, body text not null)')
    const insert = db.prepare('insert into t (body) values (?)')
    const commit = db.transaction((body: string) => insert.run(body))
    const n = 2000
    const t0 = performance.now()
    for (let i = 0; i < n; i++) commit(`row ${i}`)
    const s = (performance.now() - t0) / 1000
    db.close()
    return n / s
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

/** The same against PostgreSQL, in a schema of its own that is dropped afterwards. */
async function postgresCommitsPerS(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  const schema = `osroll_calibration_${process.pid}`
  try {
    await client.query(`create schema ${schema}`)
    await client.query(`create table ${schema}.t (id serial primary key, body text not null)`)
    const n = 500
    const t0 = performance.now()
    for (let i = 0; i < n; i++) {
      await client.query('begin')
      await client.query(`insert into ${schema}.t (body) values ($1)`, [`row ${i}`])
      await client.query('commit')
    }
    return n / ((performance.now() - t0) / 1000)
  } finally {
    await client.query(`drop schema if exists ${schema} cascade`)
    await client.end()
  }
}

const cpu = cpuMs()
figures['calibration.cpu_ms'] = Number(cpu.toFixed(1))
rows.push(['CPU: 200 × SHA-256 of 1 MiB (median of 5)', `${cpu.toFixed(1)} ms`])
const sqlite = sqliteCommitsPerS()
figures['calibration.sqlite_commits_per_s'] = Math.round(sqlite)
rows.push(['SQLite: single-row commits (WAL, synchronous = FULL)', `${Math.round(sqlite)} /s`])
const url = process.env['OSROLL_BENCH_DATABASE_URL'] ?? process.env['OSROLL_TEST_DATABASE_URL']
if (url) {
  const rate = await postgresCommitsPerS(url)
  figures['calibration.postgres_commits_per_s'] = Math.round(rate)
  rows.push(['PostgreSQL: single-row commits', `${Math.round(rate)} /s`])
} else {
  rows.push(['PostgreSQL: single-row commits', 'not measured (no OSROLL_BENCH_DATABASE_URL)'])
}
const width = Math.max(...rows.map((r) => r[0].length))
console.log(`${'calibration'.padEnd(width)}  measured`)
for (const [name, value] of rows) console.log(`${name.padEnd(width)}  ${value}`)
if (json) console.log(JSON.stringify(figures))
