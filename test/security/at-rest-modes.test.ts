/**
 * File modes of the data dir (issue 15): a dir pre-created 0755 with 0644 files is 0700/0600
 * after start, the WAL too after a write; a group-readable --tls-key is refused.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/config.js'
import { startServer } from '../../src/main.js'

const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'osroll-modes-'))
  dirs.push(d)
  return d
}

const mode = (p: string): number => statSync(p).mode & 0o777

describe('data dir modes', () => {
  it('tightens a 0755 dir and 0644 files to 0700/0600 at start, the WAL included after a write', async () => {
    const dataDir = join(tempDir(), 'data')
    mkdirSync(dataDir, { mode: 0o755 })
    chmodSync(dataDir, 0o755)
    writeFileSync(join(dataDir, 'token'), 'osr_preexisting-token\n', { mode: 0o644 })
    chmodSync(join(dataDir, 'token'), 0o644)
    const config = loadConfig({ dataDir, port: '0', fabric: 'sim' }, {})
    const first = await startServer(config, { quiet: true })
    await first.close()
    chmodSync(join(dataDir, 'osroll.db'), 0o644) // as an older osroll left it
    const server = await startServer(config, { quiet: true })
    try {
      await server.store.putToken({
        hash: 'a-write-that-goes-to-the-wal',
        role: 'Reader',
        subscriptions: [],
        label: 'wal',
        createdAtMs: 0,
      })
      expect(mode(dataDir)).toBe(0o700)
      for (const f of ['token', 'osroll.db', 'osroll.db-wal', 'osroll.db-shm'])
        expect([f, mode(join(dataDir, f))]).toEqual([f, 0o600])
    } finally {
      await server.close()
    }
  })

  it('creates a new data dir 0700 with its database 0600', async () => {
    const dataDir = join(tempDir(), 'fresh')
    const server = await startServer(loadConfig({ dataDir, port: '0', fabric: 'sim' }, {}), {
      quiet: true,
    })
    await server.close()
    expect(mode(dataDir)).toBe(0o700)
    expect(mode(join(dataDir, 'osroll.db'))).toBe(0o600)
    expect(mode(join(dataDir, 'token'))).toBe(0o600)
  })
})

describe('--tls-key', () => {
  it('is refused when other users can read it, saying chmod 600', async () => {
    const root = tempDir()
    const key = join(root, 'tls.key')
    writeFileSync(key, 'not read', { mode: 0o644 })
    chmodSync(key, 0o644)
    writeFileSync(join(root, 'tls.crt'), 'not read')
    const config = loadConfig(
      {
        dataDir: join(root, 'data'),
        port: '0',
        fabric: 'sim',
        tlsCert: join(root, 'tls.crt'),
        tlsKey: key,
      },
      {},
    )
    await expect(startServer(config, { quiet: true })).rejects.toThrow(`chmod 600 ${key}`)
  })
})
