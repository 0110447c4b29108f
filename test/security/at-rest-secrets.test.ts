/**
 * Secrets at rest (issue 15): an admin password and protectedSettings PUT to a real server are
 * not in the SQLite file's bytes (nor its WAL), yet the fabric's model still has them; a plain
 * value of an older database still reads; another key is refused at start.
 */
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs'
import { randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { loadConfig } from '../../src/config/config.js'
import { startServer } from '../../src/main.js'
import type { Server } from '../../src/main.js'
import {
  armPaths,
  autoUpgradeSetBody,
  imageBody,
  loadBalancerBody,
} from '../../test-support/arm-fixtures.js'
import { SecretBox, openAt, RESOURCE_SECRETS } from '../../src/store/secrets.js'

const PASSWORD = 'Pa55-w0rd-ATREST'
const PROTECTED = 'PROTECTED-KEY-ATREST'
const dirs: string[] = []
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true })
})

async function call(s: Server, method: 'PUT' | 'GET', path: string, payload?: object) {
  return s.app.inject({
    method,
    url: `${path}?api-version=2024-07-01`,
    headers: { authorization: `Bearer ${s.adminToken}` },
    ...(payload ? { payload } : {}),
  })
}

function setWithSecrets(sub: string): Record<string, unknown> {
  const body = autoUpgradeSetBody({ sub, capacity: 1, probe: 'tcp' }) as any
  const vmp = body.properties.virtualMachineProfile
  vmp.osProfile = { computerNamePrefix: 'web', adminUsername: 'azure', adminPassword: PASSWORD }
  vmp.extensionProfile = {
    extensions: [
      {
        name: 'script',
        properties: {
          publisher: 'Microsoft.Azure.Extensions',
          type: 'CustomScript',
          typeHandlerVersion: '2.1',
          settings: { commandToExecute: 'true' },
          protectedSettings: { storageAccountKey: PROTECTED },
        },
      },
    ],
  }
  return body
}

describe('secrets at rest', () => {
  it(
    'are sealed in the SQLite file and WAL, opened for the fabric, and another key is refused',
    { timeout: 60_000 },
    async () => {
      const dataDir = mkdtempSync(join(tmpdir(), 'osroll-atrest-'))
      dirs.push(dataDir)
      const config = loadConfig({ dataDir, port: '0', fabric: 'sim' }, {})
      const s = await startServer(config, { quiet: true })
      const p = armPaths(s.subscriptionId)
      try {
        expect((await call(s, 'PUT', p.group(), { location: 'westus' })).statusCode).toBe(201)
        expect(
          (await call(s, 'PUT', p.image('1.0.0'), imageBody('sim:?boot=0'))).statusCode,
        ).toBeLessThan(300)
        await call(s, 'PUT', p.lb, loadBalancerBody({ name: 'tcp', protocol: 'Tcp', port: 80 }))
        expect((await call(s, 'PUT', p.set(), setWithSecrets(s.subscriptionId))).statusCode).toBe(
          201,
        )
        const raw = Buffer.concat(
          ['osroll.db', 'osroll.db-wal']
            .filter((f) => existsSync(join(dataDir, f)))
            .map((f) => readFileSync(join(dataDir, f))),
        ).toString('latin1')
        expect(raw).toContain('$osrollEncrypted')
        expect(raw).not.toContain(PASSWORD)
        expect(raw).not.toContain(PROTECTED)
        // What the fabric is given: the orchestrator's state, opened.
        const key = (await s.store.listScaleSetKeys())[0] as string
        const state = await s.store.getScaleSet(key)
        expect(state?.fabricModel.extensions[0]?.protectedSettings).toEqual({
          storageAccountKey: PROTECTED,
        })
        const resource = await s.store.getResource(p.set())
        expect(
          (resource?.body as any).properties.virtualMachineProfile.osProfile.adminPassword,
        ).toBe(PASSWORD)
        expect(statSync(join(dataDir, 'secrets.key')).mode & 0o777).toBe(0o600)
      } finally {
        await s.close()
      }
      const other = join(dataDir, 'other.key')
      writeFileSync(other, randomBytes(32), { mode: 0o600 })
      await expect(
        startServer(loadConfig({ dataDir, port: '0', fabric: 'sim', secretsKeyFile: other }, {}), {
          quiet: true,
        }),
      ).rejects.toThrow('not the key this database')
      chmodSync(other, 0o644)
      await expect(
        startServer(loadConfig({ dataDir, port: '0', fabric: 'sim', secretsKeyFile: other }, {}), {
          quiet: true,
        }),
      ).rejects.toThrow(`chmod 600 ${other}`)
    },
  )

  it('passes a plain value through and refuses a wrong key with a clear error', () => {
    const box = new SecretBox(randomBytes(32), 'a.key')
    const plain = { properties: { virtualMachineProfile: { osProfile: { adminPassword: 'old' } } } }
    expect(openAt(plain, RESOURCE_SECRETS, box)).toEqual(plain)
    const sealed = box.seal('x')
    expect(() =>
      new SecretBox(randomBytes(32), 'b.key').open(sealed['$osrollEncrypted'] as string),
    ).toThrow('cannot be decrypted with the key of b.key')
  })
})
