/**
 * Secrets at rest (issue 15): admin passwords and extensions' protectedSettings are sealed with
 * AES-256-GCM under a key kept outside the database before a document is written, and opened
 * when it is read. A sealed value is `{"$osrollEncrypted": "v1:<iv>:<ciphertext>:<tag>"}`
 * (base64url); a plain value of an older database passes through and is sealed on its next write.
 */
import { createCipheriv, createDecipheriv, createHmac, randomBytes } from 'node:crypto'
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'

export const SEALED = '$osrollEncrypted'

export class SecretsKeyError extends Error {
  override readonly name = 'SecretsKeyError'
}

/** Paths of secret members; '*' is every element of an array. */
export type SecretPath = readonly string[]

const VMP = ['properties', 'virtualMachineProfile']
export const RESOURCE_SECRETS: readonly SecretPath[] = [
  [...VMP, 'osProfile', 'adminPassword'],
  [...VMP, 'extensionProfile', 'extensions', '*', 'properties', 'protectedSettings'],
]
export const SCALE_SET_SECRETS: readonly SecretPath[] = [
  ['fabricModel', 'extensions', '*', 'protectedSettings'],
]
export const LOCAL_INSTANCE_SECRETS: readonly SecretPath[] = [
  ['extensions', '*', 'protectedSettings'],
]

export class SecretBox {
  constructor(
    private readonly key: Buffer,
    /** Where the key came from, for messages. */
    readonly source: string,
  ) {
    if (key.length !== 32)
      throw new SecretsKeyError(`${source}: a secrets key is 32 bytes, not ${key.length}`)
  }

  seal(value: unknown): Record<string, string> {
    const iv = randomBytes(12)
    const c = createCipheriv('aes-256-gcm', this.key, iv)
    const ct = Buffer.concat([c.update(JSON.stringify(value), 'utf8'), c.final()])
    const parts = [iv, ct, c.getAuthTag()].map((b) => b.toString('base64url'))
    return { [SEALED]: `v1:${parts.join(':')}` }
  }

  open(sealed: string): unknown {
    const [v, iv, ct, tag] = sealed.split(':')
    if (v !== 'v1' || !iv || ct === undefined || !tag)
      throw new SecretsKeyError(`a sealed secret is not in the v1 form osroll writes`)
    try {
      const d = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'))
      d.setAuthTag(Buffer.from(tag, 'base64url'))
      const text = Buffer.concat([d.update(Buffer.from(ct, 'base64url')), d.final()])
      return JSON.parse(text.toString('utf8'))
    } catch {
      throw new SecretsKeyError(
        `a secret in the database cannot be decrypted with the key of ${this.source}: it was sealed with another key`,
      )
    }
  }

  /** A value stored beside the data that tells a wrong key at start, revealing nothing of it. */
  keyCheck(): string {
    return 'v1:' + createHmac('sha256', this.key).update('osroll secrets key check').digest('hex')
  }
}

/** `doc` with the members at `paths` sealed; copies only along the paths (the input is kept). */
export function sealAt(doc: unknown, paths: readonly SecretPath[], box: SecretBox | null): unknown {
  if (!box) return doc
  return paths.reduce(
    (d, p) => mapAt(d, p, 0, (v) => (isEmpty(v) || isSealed(v) ? v : box.seal(v))),
    doc,
  )
}

/** `doc` with sealed members at `paths` opened; plain ones pass through. */
export function openAt(doc: unknown, paths: readonly SecretPath[], box: SecretBox | null): unknown {
  return paths.reduce(
    (d, p) =>
      mapAt(d, p, 0, (v) => {
        if (!isSealed(v)) return v
        if (!box)
          throw new SecretsKeyError(
            'the database holds encrypted secrets but no secrets key was given',
          )
        return box.open(v[SEALED])
      }),
    doc,
  )
}

function mapAt(node: unknown, path: SecretPath, i: number, fn: (v: unknown) => unknown): unknown {
  const step = path[i]
  if (step === undefined) return fn(node)
  if (step === '*') {
    if (!Array.isArray(node)) return node
    const next = node.map((e) => mapAt(e, path, i + 1, fn))
    return next.some((e, j) => e !== node[j]) ? next : node
  }
  if (typeof node !== 'object' || node === null || Array.isArray(node)) return node
  const obj = node as Record<string, unknown>
  if (!(step in obj) || obj[step] === undefined || obj[step] === null) return node
  const value = mapAt(obj[step], path, i + 1, fn)
  return value === obj[step] ? node : { ...obj, [step]: value }
}

function isSealed(v: unknown): v is Record<typeof SEALED, string> {
  return (
    typeof v === 'object' &&
    v !== null &&
    typeof (v as Record<string, unknown>)[SEALED] === 'string'
  )
}

function isEmpty(v: unknown): boolean {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && Object.keys(v).length === 0
}

/**
 * The key file: 32 random bytes, created 0600 when `create` and missing; a file other users can
 * read is refused.
 */
export function loadSecretsKey(file: string, create: boolean): SecretBox {
  if (!existsSync(file)) {
    if (!create) throw new SecretsKeyError(`--secrets-key-file ${file} does not exist`)
    writeFileSync(file, randomBytes(32), { mode: 0o600, flag: 'wx' })
    chmodSync(file, 0o600)
  }
  const mode = statSync(file).mode & 0o777
  if ((mode & 0o077) !== 0)
    throw new SecretsKeyError(
      `secrets key ${file} has mode 0${mode.toString(8)}: other users can read it. Run: chmod 600 ${file}`,
    )
  return new SecretBox(readFileSync(file), file)
}
