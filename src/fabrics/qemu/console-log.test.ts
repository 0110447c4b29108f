import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { consoleTail, rotateConsole } from './console-log.js'

const dir = mkdtempSync(join(tmpdir(), 'osroll-console-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('the console log', () => {
  it('is copied aside and emptied past its size, while its writer (O_APPEND, as QEMU) goes on', async () => {
    const file = join(dir, 'console.log')
    const fd = openSync(file, 'a') // QEMU's chardev file with append=on
    try {
      writeSync(fd, 'a'.repeat(100))
      expect(await rotateConsole(file, 100)).toBe(false) // not past it
      writeSync(fd, 'b'.repeat(20))
      expect(await rotateConsole(file, 100)).toBe(true)
      expect(readFileSync(`${file}.1`, 'utf8')).toBe('a'.repeat(100) + 'b'.repeat(20))
      writeSync(fd, 'after\n')
      // the writer's next bytes land at the start of the emptied file, not past a hole
      expect(readFileSync(file, 'utf8')).toBe('after\n')
      // the tail reaches back into the rotated generation
      expect(await consoleTail(file, 10)).toBe('bbbbafter\n')
      expect(await consoleTail(file, 3)).toBe('er\n')
      // a second rotation replaces the older generation: one is kept
      writeSync(fd, 'c'.repeat(200))
      expect(await rotateConsole(file, 100)).toBe(true)
      expect(readFileSync(`${file}.1`, 'utf8')).toBe('after\n' + 'c'.repeat(200))
    } finally {
      closeSync(fd)
    }
  })

  it('has no tail before the VM wrote one', async () => {
    expect(await consoleTail(join(dir, 'none.log'), 100)).toBeUndefined()
    expect(await rotateConsole(join(dir, 'none.log'), 1)).toBe(false)
  })
})
