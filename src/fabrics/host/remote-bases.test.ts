/** Where a base lives on a host, by the digest of its content (remote-bases.ts). */
import { createHash } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { basePath, fileDigest } from './remote-bases.js'

const dir = mkdtempSync(join(tmpdir(), 'osroll-bases-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('remote bases', () => {
  it('names a base by the sha256 of its content, under the host dir', async () => {
    const file = join(dir, 'disk.qcow2')
    const content = Buffer.alloc(3 * 1024 * 1024 + 7, 0x5a) // more than one read chunk
    writeFileSync(file, content)
    const digest = await fileDigest(file)
    expect(digest).toBe(`sha256-${createHash('sha256').update(content).digest('hex')}`)
    expect(basePath('/var/lib/osroll/', digest)).toBe(`/var/lib/osroll/bases/${digest}`)
    writeFileSync(file, Buffer.concat([content, Buffer.from('x')]))
    expect(await fileDigest(file)).not.toBe(digest)
  })
})
