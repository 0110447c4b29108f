import { describe, expect, it } from 'vitest'
import { ConfigError, loadConfig } from './config.js'

describe('configuration', () => {
  it('has embedded defaults: local fabric, SQLite, prompt timing, PT5M health deadline', () => {
    const c = loadConfig({}, {})
    expect(c).toMatchObject({
      host: '127.0.0.1',
      port: 7280,
      fabric: 'local',
      store: 'sqlite',
      timing: 'prompt',
      healthDeadlineMs: 300_000,
      promptJitterMs: 30_000,
      addressPrefix: '127.77',
      historyRetentionMs: 90 * 86_400_000,
      tls: { kind: 'none' },
    })
  })

  it('reads flags before OSROLL_* variables', () => {
    const c = loadConfig(
      { port: '9000' },
      {
        OSROLL_PORT: '8000',
        OSROLL_FABRIC: 'sim',
        OSROLL_HEALTH_DEADLINE: 'PT30S',
        OSROLL_TLS: 'self-signed',
      },
    )
    expect(c).toMatchObject({
      port: 9000,
      fabric: 'sim',
      healthDeadlineMs: 30_000,
      tls: { kind: 'self-signed' },
    })
  })

  it('--log-level overrides OSROLL_LOG_LEVEL, whose default is info', () => {
    expect(loadConfig({}, {}).logLevel).toBe('info')
    expect(loadConfig({}, { OSROLL_LOG_LEVEL: 'warn' }).logLevel).toBe('warn')
    expect(loadConfig({ logLevel: 'debug' }, { OSROLL_LOG_LEVEL: 'warn' }).logLevel).toBe('debug')
  })

  it('resource groups are explicit, as in Azure, unless --implicit-resource-groups', () => {
    expect(loadConfig({}, {}).implicitResourceGroups).toBe(false)
    expect(loadConfig({}, { OSROLL_IMPLICIT_RESOURCE_GROUPS: 'true' }).implicitResourceGroups).toBe(
      true,
    )
    const flag = loadConfig(
      { implicitResourceGroups: 'false' },
      { OSROLL_IMPLICIT_RESOURCE_GROUPS: 'true' },
    )
    expect(flag.implicitResourceGroups).toBe(false)
  })

  it.each([
    [
      { implicitResourceGroups: 'yes' },
      /--implicit-resource-groups .*'yes' is not one of true, false/,
    ],
    [{ port: 'eighty' }, /--port \(OSROLL_PORT\): 'eighty' is not a port number/],
    [{ fabric: 'xen' }, /--fabric .*'xen' is not one of local, sim, qemu/],
    [{ qemuAccel: 'hvf' }, /--qemu-accel .*'hvf' is not one of auto, kvm, tcg/],
    [{ healthDeadline: '5 minutes' }, /--health-deadline .*ISO-8601/],
    [{ addressRange: '10.1.0.0/16' }, /--address-range .*loopback/],
    [{ tlsCert: '/x.pem' }, /needs both --tls-cert and --tls-key/],
    [{ store: 'postgres' }, /--database-url .*is required with --store postgres/],
    [{ leaseTtl: 'PT0.5S' }, /--lease-ttl \(OSROLL_LEASE_TTL\): must be from PT1S to PT60S/],
    [{ databaseSchema: 'Public; drop' }, /--database-schema .*lower-case SQL identifier/],
    [{ replicaId: 'a b' }, /--replica-id .*letters, digits/],
    [
      { logLevel: 'bogus' },
      /--log-level \(OSROLL_LOG_LEVEL\): 'bogus' is not one of fatal, error, warn, info, debug, trace, silent/,
    ],
    [
      { osDiskMode: 'overlay' },
      /--os-disk-mode \(OSROLL_OS_DISK_MODE\): 'overlay' is not one of auto, reflink, link, copy/,
    ],
  ])('refuses %j with a message that names the flag', (raw, message) => {
    expect(() => loadConfig(raw, {})).toThrow(ConfigError)
    expect(() => loadConfig(raw, {})).toThrow(message)
  })
})
