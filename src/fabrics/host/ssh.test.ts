/**
 * The OpenSSH helpers without a host (test/e2e/hosts.test.ts reaches real ones, as root): a
 * fingerprint as ssh-keygen prints it, the public half of a private key, a key with a
 * passphrase or in no format refused saying why, a port nothing answers on refused by the scan,
 * and an ssh run that leaves no key file behind.
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { SshClient, fingerprintOf, publicKeyOf, scanHostKeys } from './ssh.js'

let dir = ''
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'osroll-ssh-test-'))
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(dir, 'plain')])
  execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'pw', '-f', join(dir, 'locked')])
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('ssh helpers', () => {
  it('computes the fingerprint ssh-keygen prints, and the public half of a key', async () => {
    const pub = readFileSync(join(dir, 'plain.pub'), 'utf8').split(' ')
    const printed = execFileSync(
      'ssh-keygen',
      ['-l', '-E', 'sha256', '-f', join(dir, 'plain.pub')],
      {
        encoding: 'utf8',
      },
    )
    expect(printed).toContain(fingerprintOf(pub[1] as string))
    const half = await publicKeyOf(readFileSync(join(dir, 'plain'), 'utf8'))
    expect(half).toEqual({
      publicKey: `${pub[0]} ${pub[1]}`,
      fingerprint: fingerprintOf(pub[1] as string),
    })
  })

  it('refuses a key with a passphrase and one in no format, saying why', async () => {
    await expect(publicKeyOf(readFileSync(join(dir, 'locked'), 'utf8'))).rejects.toThrow(
      /protected by a passphrase/,
    )
    await expect(
      publicKeyOf('-----BEGIN OPENSSH PRIVATE KEY-----\nbm8=\n-----END OPENSSH PRIVATE KEY-----\n'),
    ).rejects.toThrow(/ssh-keygen cannot read the private key/)
  })

  it('finds no host key where nothing listens, and an ssh run leaves no key file', async () => {
    await expect(scanHostKeys('127.0.0.1', 1, { connectTimeoutS: 2 })).rejects.toThrow(
      /no SSH host key came from 127\.0\.0\.1:1/,
    )
    const runs = join(dir, 'runs')
    const ssh = new SshClient({ dir: runs })
    const r = await ssh.run(
      {
        name: 'h',
        address: '127.0.0.1',
        port: 1,
        user: 'osroll',
        privateKey: readFileSync(join(dir, 'plain'), 'utf8'),
        hostKey: { type: 'ssh-ed25519', base64: 'AAAA', fingerprint: 'SHA256:x' },
      },
      ['true'],
      { connectTimeoutS: 2 },
    )
    expect(r.kind).toBe('Unreachable')
    expect(r.kind === 'Unreachable' && r.message).toContain('Connection refused')
    expect(readdirSync(runs)).toEqual([])
  })
})
