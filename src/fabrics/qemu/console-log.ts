/**
 * A VM's serial console log, rotated (issue 19 §8). QEMU appends to `console.log` (`append=on`,
 * so O_APPEND: after the file is emptied, its next write lands at the start). Past `maxBytes`
 * the log is copied to `console.log.1` (one generation kept) and emptied — logrotate's
 * copytruncate, since QEMU keeps the file open and outlives osroll. Bytes written between the
 * copy and the truncate are lost; a console is diagnostics, not a record.
 */
import { copyFile, readFile, stat, truncate } from 'node:fs/promises'

export const CONSOLE_LOG = 'console.log'

/** The default size past which a console log is rotated: 1 MiB. */
export const CONSOLE_ROTATE_BYTES = 1024 * 1024

/** Rotates `file` when it has grown past `maxBytes`; true when it did. */
export async function rotateConsole(file: string, maxBytes: number): Promise<boolean> {
  const st = await stat(file).catch(() => null)
  if (st === null || st.size <= maxBytes) return false
  await copyFile(file, `${file}.1`)
  await truncate(file, 0)
  return true
}

/** The last `maxBytes` of the console, reaching into the rotated generation when needed. */
export async function consoleTail(file: string, maxBytes: number): Promise<string | undefined> {
  const current = await readFile(file).catch(() => null)
  if (current === null) return undefined
  if (current.length >= maxBytes)
    return current.subarray(current.length - maxBytes).toString('utf8')
  const older = await readFile(`${file}.1`).catch(() => null)
  const both = older ? Buffer.concat([older, current]) : current
  return both.subarray(Math.max(0, both.length - maxBytes)).toString('utf8')
}
