/**
 * API fuzzing (issue 8): fast-check generates malformed and adversarial requests — wrong types,
 * huge and deeply nested JSON, unknown members, bad ids, path tricks, header abuse, wrong
 * api-versions, bad tokens — and sends them to the real Fastify app (in process, sim fabric, the
 * orchestrator not running so that nothing else changes the store). For each request: never a
 * 5xx, never a crash, an ARM error envelope on every refusal, and a refused request changes
 * nothing (a digest of every stored resource, scale set, rollout, operation and token). The
 * token endpoint (/adfs/…) answers errors as OAuth 2.0 does instead of ARM.
 *
 * Authorization oracle (issue 15): a share of the requests are valid routes of known targets,
 * spelled with URL mutations (one letter percent-encoded, double encoding, `/SUBSCRIPTIONS/`, an
 * encoded slash, trailing dots, `//`, `/./`, `/x/../`), sent with tokens of every role and scope
 * (Reader, Contributor and Owner of subscription A, an Operator, the admin token). The generator
 * knows what each request really targets, so it knows whether the token may touch it: another
 * subscription's resources, a platform image publish or delete without the Operator role, or a
 * write with a Reader token must not get a 2xx (nor any answer below 400), and must change
 * nothing: an admin read-back of the target (resource or collection) is the same before and after.
 */
import { createHash, randomUUID } from 'node:crypto'
import http from 'node:http'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import pino from 'pino'
import { sql } from 'kysely'
import { loadConfig } from '../../src/config/config.js'
import { buildSystem } from '../../src/main.js'
import { openSqliteStore } from '../../src/store/sqlite/open-sqlite.js'
import { createToken } from '../../src/services/tokens.js'
import {
  armPaths,
  autoUpgradeSetBody,
  imageBody,
  loadBalancerBody,
  virtualNetworkBody,
} from '../../test-support/arm-fixtures.js'

export type FuzzResult = Readonly<{
  requests: number
  /** Requests the authorization oracle judged (a mutated valid route with a known target). */
  authzRequests: number
  /** How many of those the token may not touch (each must be refused and change nothing). */
  forbidden: number
  /** Authorization violations among `violations`: a forbidden request answered or obeyed. */
  authzViolations: number
  violations: readonly string[]
}>

type Req = {
  method: string
  path: string
  query: string
  headers: Record<string, string>
  body: string | undefined
  /** Set on authorization-oracle requests: whether the token may touch the target, and how to read it back. */
  authz?: { forbidden: string | undefined; readback: string }
}

/** The tokens the fuzzer sends: admin (Operator), an Operator, and three scoped to subscription A. */
type Tokens = {
  admin: string
  reader: string
  other: string
  operator: string
  readerA: string
  contributorA: string
  ownerA: string
}

export async function runApiFuzz(o: { runs: number; seed: number }): Promise<FuzzResult> {
  const dir = mkdtempSync(join(tmpdir(), 'osroll-fuzz-'))
  // No rate limit: one token sends every request (the limit itself is tested in test/api).
  const config = loadConfig(
    { dataDir: dir, fabric: 'sim', promptJitter: 'PT0S', rateLimit: '0' },
    {},
  )
  const store = await openSqliteStore(':memory:')
  const sys = await buildSystem({ config, store, log: pino({ level: 'silent' }) })
  const app = sys.app
  const violations: string[] = []
  let requests = 0
  let authzRequests = 0
  let forbidden = 0
  let authzViolations = 0
  try {
    const sub = sys.subscriptionId
    const p = armPaths(sub)
    const admin = sys.adminToken
    const reader = await createToken(store, {
      role: 'Reader',
      subscriptions: [],
      label: 'fuzz-reader',
      nowMs: 0,
    })
    const other = await createToken(store, {
      role: 'Owner',
      subscriptions: [randomUUID()],
      label: 'fuzz-other-sub',
      nowMs: 0,
    })
    const mk = (role: 'Reader' | 'Contributor' | 'Owner' | 'Operator', subs: string[]) =>
      createToken(store, { role, subscriptions: subs, label: `fuzz-${role}`, nowMs: 0 })
    const tokens: Tokens = {
      admin,
      reader,
      other,
      operator: await mk('Operator', []),
      readerA: await mk('Reader', [sub]),
      contributorA: await mk('Contributor', [sub]),
      ownerA: await mk('Owner', [sub]),
    }
    // Subscription B: another tenant, with a load balancer and a scale set of its own.
    const subB = OTHER_SUB
    // Realistic targets: an image, a load balancer with a probe, a scale set.
    const seed = async (method: string, url: string, body: unknown) => {
      const r = await app.inject({
        method: method as 'PUT',
        url: `${url}?api-version=2024-07-01`,
        headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
        payload: JSON.stringify(body),
      })
      if (r.statusCode >= 300) throw new Error(`fuzz setup ${url}: ${r.statusCode} ${r.body}`)
    }
    // Resource groups: `rg` holds the targets; `fz` is the one group routes may change or delete.
    for (const group of ['rg', 'fz']) {
      await seed('PUT', p.group(group), { location: 'westus' })
      await seed('PUT', armPaths(OTHER_SUB).group(group), { location: 'westus' })
    }
    await seed('PUT', p.image('1.0.0'), imageBody('sim:?boot=0'))
    await seed('PUT', p.lb, loadBalancerBody({ name: 'tcp', protocol: 'Tcp', port: 80 }))
    await seed('PUT', p.vnet, virtualNetworkBody())
    await seed('PUT', p.set(), autoUpgradeSetBody({ sub, capacity: 3, probe: 'tcp' }))
    const pB = armPaths(subB)
    await seed('PUT', pB.lb, loadBalancerBody({ name: 'tcp', protocol: 'Tcp', port: 80 }))
    await seed('PUT', pB.vnet, virtualNetworkBody())
    await seed('PUT', pB.set(), autoUpgradeSetBody({ sub: subB, capacity: 1, probe: 'tcp' }))
    const validSet = autoUpgradeSetBody({ sub, capacity: 3, probe: 'tcp' })

    const digest = async (): Promise<string> => {
      const h = createHash('sha256')
      for (const q of [
        sql`select id, etag, body from resources order by id`,
        sql`select key, revision from scale_sets order by key`,
        sql`select id, revision from rollouts order by id`,
        sql`select id, document from operations order by id`,
        sql`select hash from tokens order by hash`,
        sql`select set_key, instance_id, record from instance_records order by 1, 2`,
        sql`select * from rollout_plans order by 1`,
        sql`select * from rollout_plan_members order by 1, 2`,
        sql`select * from hosts order by 1`,
      ])
        h.update(JSON.stringify((await q.execute(store.db)).rows))
      return h.digest('hex')
    }

    let base: Promise<string> | undefined
    const listening = () => (base ??= app.listen({ host: '127.0.0.1', port: 0 }))
    const readBack = async (path: string): Promise<string> => {
      const r = await app.inject({
        method: 'GET',
        url: `${path}?api-version=2024-07-01`,
        headers: { authorization: `Bearer ${admin}` },
      })
      return `${r.statusCode} ${r.body}`
    }

    const arb = fc.oneof(
      { weight: 2, arbitrary: requestArbitrary({ sub, paths: p, validSet, tokens }) },
      { weight: 1, arbitrary: authzArbitrary({ sub, subB, tokens }) },
    )
    await fc.assert(
      fc.asyncProperty(arb, async (req) => {
        requests++
        const mutating = !['GET', 'HEAD', 'OPTIONS'].includes(req.method)
        const before = mutating ? await digest() : ''
        const readBefore = req.authz?.forbidden ? await readBack(req.authz.readback) : ''
        let res
        try {
          // /events streams forever by design; every other request must answer within 10 s.
          if (/^\/events(\?|$)/i.test(req.path)) return true
          // A URL that light-my-request itself cannot parse never reaches the server.
          if (!URL.canParse(`${req.path}${req.query}`, 'http://localhost')) return true
          // app.inject resolves `.` and `..` segments before the server sees them; an
          // authorization-oracle request that has them goes over a real socket, as sent.
          const answer =
            req.authz && DOT_SEGMENT.test(req.path)
              ? overHttp(await listening(), req)
              : app.inject({
                  method: req.method as 'GET',
                  url: `${req.path}${req.query}`,
                  headers: req.headers,
                  ...(req.body !== undefined ? { payload: req.body } : {}),
                })
          res = await Promise.race([
            answer,
            new Promise<null>((r) => setTimeout(() => r(null), 10_000).unref()),
          ])
          if (res === null) {
            violations.push(`no answer in 10 s: ${describe(req)}`)
            return true
          }
        } catch (err) {
          violations.push(`crash: ${describe(req)}: ${(err as Error).stack ?? String(err)}`)
          return true
        }
        if (res.statusCode >= 500)
          violations.push(`${res.statusCode}: ${describe(req)} → ${res.body.slice(0, 300)}`)
        if (res.statusCode >= 400 && req.method !== 'HEAD') {
          let ok = false
          try {
            const b = JSON.parse(res.body) as {
              error?: { code?: unknown; message?: unknown } | string
            }
            // The token endpoint's own errors are OAuth 2.0's (RFC 6749 §5.2); the rest ARM's.
            const arm =
              typeof b.error === 'object' &&
              typeof b.error.code === 'string' &&
              typeof b.error.message === 'string'
            ok = arm || (/\/adfs\//i.test(req.path) && typeof b.error === 'string')
          } catch {
            ok = false
          }
          if (!ok)
            violations.push(
              `no ARM error body: ${res.statusCode} ${describe(req)} → ${res.body.slice(0, 200)}`,
            )
        }
        if (mutating && res.statusCode >= 400 && (await digest()) !== before)
          violations.push(`refused (${res.statusCode}) but changed the store: ${describe(req)}`)
        if (req.authz) {
          authzRequests++
          const why = req.authz.forbidden
          if (why) {
            forbidden++
            const found: string[] = []
            if (res.statusCode < 400)
              found.push(`authz: ${why}, yet ${res.statusCode}: ${describe(req)}`)
            const readAfter = await readBack(req.authz.readback)
            if (readAfter !== readBefore)
              found.push(
                `authz: ${why}, yet ${req.authz.readback} changed (${res.statusCode}): ${describe(req)}`,
              )
            authzViolations += found.length
            violations.push(...found)
          }
        }
        return true
      }),
      { numRuns: o.runs, seed: o.seed, endOnFailure: true },
    )
  } finally {
    await sys.app.close()
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  }
  return {
    requests,
    authzRequests,
    forbidden,
    authzViolations,
    violations: [...new Set(violations)].slice(0, 50),
  }
}

const DOT_SEGMENT = /(^|\/)\.\.?(\/|$)/

/** Sends `r` over HTTP with its path exactly as written (no dot-segment resolution). */
function overHttp(base: string, r: Req): Promise<{ statusCode: number; body: string }> {
  const { hostname, port } = new URL(base)
  return new Promise((resolve, reject) => {
    const req = http.request(
      {
        host: hostname,
        port,
        method: r.method,
        path: `${r.path}${r.query}`,
        // One connection a request: an answer sent before its body was read leaves no bytes
        // behind for the next request to be parsed from.
        agent: false,
        headers: {
          ...r.headers,
          connection: 'close',
          ...(r.body !== undefined ? { 'content-length': String(Buffer.byteLength(r.body)) } : {}),
        },
      },
      (res) => {
        let body = ''
        res.setEncoding('utf8')
        res.on('data', (d: string) => (body += d))
        res.on('end', () => resolve({ statusCode: res.statusCode ?? 0, body }))
        res.on('error', reject)
      },
    )
    req.on('error', reject)
    req.end(r.body)
  })
}

/** Subscription B of the authorization oracle: no token but the Operators' may touch it. */
const OTHER_SUB = '11111111-2222-3333-4444-555555555555'

export type UrlMutation =
  | 'none'
  | 'encodeLetter'
  | 'doubleEncode'
  | 'upperCase'
  | 'encodedSlash'
  | 'trailingDot'
  | 'doubleSlash'
  | 'dotSegment'
  | 'dotDotSegment'

export const URL_MUTATIONS: readonly UrlMutation[] = [
  'none',
  'encodeLetter',
  'doubleEncode',
  'upperCase',
  'encodedSlash',
  'trailingDot',
  'doubleSlash',
  'dotSegment',
  'dotDotSegment',
]

/**
 * One URL mutation of a valid path, at the `i`-th place it can apply (modulo their number): the
 * spellings the audit of issue 15 used to get past an authorization check on the raw URL. `own`
 * is the segment a dot-dot mutation climbs out of (the token's own subscription: `/subscriptions/A/../B`).
 * @example mutateUrl('/subscriptions/B/x', 'encodeLetter', 0) → '/%73ubscriptions/B/x'
 */
export function mutateUrl(path: string, kind: UrlMutation, i: number, own = 'x'): string {
  const hex = (c: string, upper: boolean) => {
    const h = c.charCodeAt(0).toString(16).padStart(2, '0')
    return upper ? h.toUpperCase() : h
  }
  const letters = [...path].flatMap((c, at) => (/[A-Za-z]/.test(c) ? [at] : []))
  const at = <T>(xs: readonly T[]): T | undefined => xs[i % Math.max(1, xs.length)]
  const segments = path.split('/')
  const segment = 1 + (i % Math.max(1, segments.length - 1))
  const withSegments = (f: (s: string[]) => void) => {
    const s = [...segments]
    f(s)
    return s.join('/')
  }
  switch (kind) {
    case 'none':
      return path
    case 'encodeLetter':
    case 'doubleEncode': {
      const l = at(letters)
      if (l === undefined) return path
      const enc = `${kind === 'doubleEncode' ? '%25' : '%'}${hex(path[l] as string, i % 2 === 0)}`
      return path.slice(0, l) + enc + path.slice(l + 1)
    }
    case 'upperCase':
      return i % 2 === 0
        ? path.replace('/subscriptions/', '/SUBSCRIPTIONS/')
        : withSegments((s) => (s[segment] = (s[segment] ?? '').toUpperCase()))
    case 'encodedSlash':
      return withSegments((s) => {
        if (segment < s.length - 1)
          s.splice(segment, 2, `${s[segment]}%${i % 2 ? '2f' : '2F'}${s[segment + 1]}`)
      })
    case 'trailingDot':
      return withSegments((s) => (s[segment] = `${s[segment] ?? ''}.`))
    case 'doubleSlash':
      return withSegments((s) => s.splice(segment, 0, ''))
    case 'dotSegment':
      return withSegments((s) => s.splice(segment, 0, '.'))
    case 'dotDotSegment':
      return withSegments((s) => s.splice(segment, 0, i % 3 === 0 ? own : 'x', '..'))
  }
}

/**
 * Authorization-oracle requests: a valid route of a known target, mutated by one or two URL
 * mutations, with a token of some role and scope. Whether the token may touch the target is
 * decided here from the target (never from the answer): another subscription, the platform
 * catalog written without the Operator role, a write with a Reader token.
 */
function authzArbitrary(c: { sub: string; subB: string; tokens: Tokens }): fc.Arbitrary<Req> {
  type Target = {
    sub: 'A' | 'B'
    path: string
    readback: string
    catalog: boolean
    body: () => unknown
  }
  const targets: Target[] = []
  for (const [which, id] of [
    ['A', c.sub],
    ['B', c.subB],
  ] as const) {
    const p = armPaths(id)
    const set = p.set()
    const lbBody = () => ({
      ...loadBalancerBody({ name: 'tcp', protocol: 'Tcp', port: 80 }),
      tags: { fuzz: 'changed' },
    })
    const setBody = () => ({
      ...autoUpgradeSetBody({ sub: id, capacity: 2, probe: 'tcp' }),
      tags: { fuzz: 'changed' },
    })
    const versions = p.image('1.0.0').replace(/\/versions\/.*/, '/versions')
    const t = (path: string, readback: string, body: () => unknown, catalog = false) =>
      targets.push({ sub: which, path, readback, catalog, body })
    const groupBody = () => ({ location: 'westus', tags: { fuzz: 'changed' } })
    t(p.group('fz'), p.group('fz'), groupBody)
    t(`${p.group('fz')}/resources`, p.group('fz'), () => undefined)
    t(`/subscriptions/${id}/resourcegroups`, `/subscriptions/${id}/resourcegroups`, groupBody)
    t(p.lb, p.lb, lbBody)
    t(p.probe('tcp'), p.lb, lbBody)
    t(p.vnet, p.vnet, () => ({ ...virtualNetworkBody(), tags: { fuzz: 'changed' } }))
    t(p.subnet(), p.vnet, () => ({ properties: { addressPrefix: '10.0.2.0/24' } }))
    t(`${p.vnet}/subnets`, p.vnet, () => undefined)
    t(set, set, setBody)
    t(`${set}/virtualMachines`, set, () => undefined)
    t(`${set}/virtualMachines/0`, `${set}/virtualMachines`, () => undefined)
    t(`${set}/manualupgrade`, set, () => ({ instanceIds: ['0'] }))
    t(`${set}/osRollingUpgrade`, set, () => undefined)
    t(`${set}/rollingUpgrades/cancel`, set, () => undefined)
    t(`${set}/approveRollingUpgrade`, set, () => ({ instanceIds: ['0'] }))
    t(`${set}/extensionRollingUpgrade`, set, () => undefined)
    t(p.image('9.9.9'), versions, () => imageBody('sim:?boot=0'), true)
    t(p.image('1.0.0'), versions, () => imageBody('sim:?boot=0'), true)
  }
  const roles = [
    'admin',
    'operator',
    'readerA',
    'contributorA',
    'ownerA',
  ] as const satisfies readonly (keyof Tokens)[]
  return fc
    .record({
      target: fc.constantFrom(...targets),
      method: fc.constantFrom('GET', 'PUT', 'PATCH', 'POST', 'DELETE'),
      role: fc.constantFrom(...roles),
      mutations: fc.array(fc.tuple(fc.constantFrom(...URL_MUTATIONS), fc.nat()), {
        minLength: 1,
        maxLength: 2,
      }),
    })
    .map(({ target, method, role, mutations }) => {
      let path = target.path
      for (const [kind, i] of mutations) path = mutateUrl(path, kind, i, c.sub)
      const write = method !== 'GET'
      const operator = role === 'admin' || role === 'operator'
      const forbidden = operator
        ? undefined
        : target.sub === 'B'
          ? `a token of ${role} (subscription A only) targets subscription B`
          : target.catalog && write
            ? `${role} writes the platform catalog`
            : write && role === 'readerA'
              ? 'a Reader token writes'
              : undefined
      const body = write ? target.body() : undefined
      return {
        method,
        path,
        query: '?api-version=2024-07-01',
        headers: {
          authorization: `Bearer ${c.tokens[role]}`,
          ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        authz: { forbidden, readback: target.readback },
      }
    })
}

function describe(r: Req): string {
  const body = r.body === undefined ? '' : ` body=${JSON.stringify(r.body.slice(0, 1500))}`
  return `${r.method} ${r.path.slice(0, 200)}${r.query.slice(0, 100)}${body}`
}

/** Requests: mostly near-valid (a valid one with one thing broken), some pure noise. */
function requestArbitrary(c: {
  sub: string
  paths: ReturnType<typeof armPaths>
  validSet: Record<string, unknown>
  tokens: Tokens
}): fc.Arbitrary<Req> {
  const { sub, paths } = c
  const set = paths.set()
  const targets = [
    '/subscriptions',
    `/subscriptions/${sub}`,
    `/subscriptions/${sub}/locations`,
    `/subscriptions/${sub}/resourcegroups`,
    paths.group('fz'),
    paths.group('missing'),
    `${paths.group('fz')}/resources`,
    `/subscriptions/${sub}/operationresults/${randomUUID()}`,
    `/subscriptions/${sub}/resourceGroups/missing/providers/Microsoft.Network/loadBalancers/lb`,
    set,
    paths.set('other'),
    `${set}/virtualMachines`,
    `${set}/virtualMachines/0`,
    `${set}/virtualMachines/0/instanceView`,
    `${set}/virtualMachines/0/bootDiagnostics`,
    `${set}/virtualMachines/0/networkInterfaces`,
    `${set}/networkInterfaces`,
    `${set}/instanceView`,
    `${set}/osRollingUpgrade`,
    `${set}/rollingUpgrades/cancel`,
    `${set}/rollingUpgrades/latest`,
    `${set}/osUpgradeHistory`,
    `${set}/manualupgrade`,
    `${set}/approveRollingUpgrade`,
    `${set}/extensionRollingUpgrade`,
    `${set}/virtualMachines/0/approveRollingUpgrade`,
    `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets`,
    `/subscriptions/${sub}/providers/Microsoft.Compute/virtualMachineScaleSets`,
    paths.image('1.0.0'),
    paths.image('9.9.9'),
    paths.image('1.0.0').replace(/\/versions\/.*/, '/versions'),
    paths.lb,
    paths.probe('tcp'),
    paths.vnet,
    paths.subnet(),
    paths.subnet('other'),
    `${paths.vnet}/subnets`,
    `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Network/virtualNetworks`,
    `/subscriptions/${sub}/providers/Microsoft.Network/virtualNetworks`,
    `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Compute/galleries/g`,
    `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/d`,
    `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.Compute/galleries/g/images/d/versions/1.0.0`,
    `/subscriptions/${sub}/resourceGroups/rg/providers/Microsoft.ServiceFabric/clusters/c`,
    `/subscriptions/${sub}/providers/Microsoft.Compute/locations/westus/operations/${randomUUID()}`,
    // osroll's own extension resources (Osroll.Upgrades), on the set and on the subscription.
    ...[
      'plans/default',
      'plans/default?version=1.0.0',
      'rollouts',
      'rollouts/current',
      'rollouts/current/timeline',
      'rollouts/current/pause',
      'rollouts/current/resume',
      'rollouts/start',
      'rollouts/nope/timeline',
      'quarantinedVersions',
      'quarantinedVersions/1.0.0',
      'quarantinedVersions/1.0.0/release',
      'upgradeSettings/default',
      'healthGates/default',
      'lifecycleHooks/default',
      'maintenanceWindows/default',
    ].map((x) => `${set}/providers/Osroll.Upgrades/${x}`),
    `/subscriptions/${sub}/providers/Osroll.Upgrades/rolloutPlans`,
    `/subscriptions/${sub}/providers/Osroll.Upgrades/rolloutPlans/plan`,
    `/subscriptions/${sub}/providers/Osroll.Upgrades/rolloutPlans/plan/pause`,
    `/subscriptions/${sub}/providers/Osroll.Upgrades/rolloutPlans/plan/cancel`,
    `/subscriptions/${sub}/providers/Osroll.Upgrades/fleetVersions`,
    // Not the hosts registry (/providers/Osroll.Fabric/hosts): a PUT reaches out over SSH to
    // the address it names, and tests reach loopback only; test/api/hosts.test.ts has its inputs.
    '/metrics',
    '/whoami',
    '/healthz',
    '/metadata/endpoints',
    '/adfs/oauth2/token',
    '/',
    '/ui/../../etc/passwd',
  ]
  const nasty = fc.constantFrom(
    '..',
    '%2e%2e',
    '%2F',
    '%00',
    'a'.repeat(5000),
    '名前',
    '<script>',
    "'; drop table resources; --",
    '',
    ' ',
    '%',
    '%zz',
    '~',
    '$',
    'web/../web',
  )
  const mutatePath = fc
    .tuple(fc.constantFrom(...targets), fc.nat(), nasty, fc.boolean())
    .map(([t, i, bad, replace]) => {
      const parts = t.split('/')
      const at = 1 + (i % Math.max(1, parts.length - 1))
      if (replace) parts[at] = bad
      else parts.splice(at, 0, bad)
      return parts.join('/')
    })
  const path = fc.oneof(
    { weight: 6, arbitrary: fc.constantFrom(...targets) },
    { weight: 3, arbitrary: mutatePath },
    { weight: 1, arbitrary: fc.string({ maxLength: 300 }).map((s) => `/${s}`) },
  )
  const apiVersion = fc.oneof(
    fc.constant('?api-version=2024-07-01'),
    fc.constant(''),
    fc.constant('?api-version='),
    fc.constant('?api-version=1999-01-01'),
    fc.constant('?api-version=2024-07-01&api-version=2019-03-01'),
    fc.string({ maxLength: 40 }).map((s) => `?api-version=${encodeURIComponent(s)}`),
    fc
      .tuple(fc.string({ maxLength: 20 }), fc.string({ maxLength: 200 }))
      .map(([k, v]) => `?api-version=2024-07-01&${encodeURIComponent(k)}=${encodeURIComponent(v)}`),
    fc.constantFrom(
      '?api-version=2024-07-01&$expand=instanceView',
      '?api-version=2024-07-01&$expand=ReplicationStatus',
      '?api-version=2024-07-01&$skiptoken=%%%',
      '?api-version=2024-07-01&$skiptoken=eyJ4IjoxfQ',
      '?api-version=2024-07-01&$top=-1',
      '?api-version=2024-07-01&$top=99999999999999999999',
      '?api-version=2024-07-01&$orderby=name%20desc',
      '?lastEventId=abc',
      '?lastEventId=999999999999999999999',
    ),
  )
  const auth = fc.oneof(
    { weight: 6, arbitrary: fc.constant(`Bearer ${c.tokens.admin}`) },
    { weight: 2, arbitrary: fc.constant(`Bearer ${c.tokens.reader}`) },
    { weight: 1, arbitrary: fc.constant(`Bearer ${c.tokens.other}`) },
    {
      weight: 2,
      arbitrary: fc.constantFrom(
        '',
        'Bearer',
        'Bearer ',
        'Basic dXNlcjpwYXNz',
        `bearer ${c.tokens.admin}`,
        `Bearer ${c.tokens.admin}x`,
        `Bearer ${'x'.repeat(10_000)}`,
        'Bearer osr_\u0000',
      ),
    },
    { weight: 1, arbitrary: fc.string({ maxLength: 200 }) },
  )
  const contentType = fc.constantFrom(
    'application/json',
    'application/json; charset=utf-8',
    'text/plain',
    'application/x-www-form-urlencoded',
    'application/json; charset=latin1',
    '',
  )
  // Bodies: a valid scale set with one member broken, JSON values of every shape, deep nesting,
  // huge strings, and bytes that are not JSON at all.
  const mutatedSet = fc
    .tuple(
      fc.array(fc.constantFrom(...setPaths(c.validSet)), { minLength: 1, maxLength: 3 }),
      fc.jsonValue({ maxDepth: 3 }),
    )
    .map(([at, value]) => JSON.stringify(setIn(structuredClone(c.validSet), at, value)))
  const body = fc.oneof(
    { weight: 4, arbitrary: mutatedSet },
    { weight: 3, arbitrary: fc.jsonValue({ maxDepth: 5 }).map((v) => JSON.stringify(v)) },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 100, max: 100_000 }).map((d) => '['.repeat(d) + ']'.repeat(d)),
    },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: 1, max: 6 })
        .map((n) => JSON.stringify({ location: 'westus', x: 'y'.repeat(10 ** n) })),
    },
    { weight: 1, arbitrary: fc.string({ maxLength: 500 }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '{',
        'null',
        '"x"',
        '[]',
        '{"__proto__":{"polluted":true}}',
        '{"constructor":{"prototype":{"x":1}}}',
        '\u0000',
        '{"location":"westus","location":"eastus"}',
      ),
    },
  )
  const extraHeaders = fc.dictionary(
    fc.constantFrom(
      'if-match',
      'if-none-match',
      'x-ms-correlation-request-id',
      'last-event-id',
      'accept',
      'x-forwarded-for',
      'content-encoding',
    ),
    fc.oneof(
      fc.string({ maxLength: 100 }),
      fc.constantFrom('*', '"x"', 'gzip', 'W/"1"', 'a'.repeat(8000)),
    ),
    { maxKeys: 3 },
  )
  return fc
    .record({
      method: fc.oneof(
        { weight: 8, arbitrary: fc.constantFrom('GET', 'PUT', 'PATCH', 'POST', 'DELETE') },
        { weight: 1, arbitrary: fc.constantFrom('HEAD', 'OPTIONS') },
      ),
      path,
      query: apiVersion,
      auth,
      contentType,
      extra: extraHeaders,
      body: fc.option(body, { nil: undefined, freq: 4 }),
    })
    .map((r) => ({
      method: r.method,
      path: r.path,
      query: r.path.includes('?') ? '' : r.query,
      headers: {
        ...r.extra,
        ...(r.auth ? { authorization: r.auth } : {}),
        ...(r.body !== undefined && r.contentType ? { 'content-type': r.contentType } : {}),
      },
      // GET and HEAD carry no body in practice; the others do.
      body: r.method === 'GET' || r.method === 'HEAD' ? undefined : r.body,
    }))
}

/** Every member path of a JSON object ('properties.upgradePolicy.mode', …). */
function setPaths(o: unknown, prefix: string[] = []): string[][] {
  if (o === null || typeof o !== 'object') return [prefix]
  const out: string[][] = prefix.length > 0 ? [prefix] : []
  for (const [k, v] of Object.entries(o)) out.push(...setPaths(v, [...prefix, k]))
  return out
}

function setIn(o: Record<string, unknown>, at: string[][], value: unknown): unknown {
  for (const path of at) {
    let x: Record<string, unknown> = o
    for (const k of path.slice(0, -1)) {
      const next = x[k]
      if (next === null || typeof next !== 'object') break
      x = next as Record<string, unknown>
    }
    const last = path[path.length - 1]
    if (last !== undefined) x[last] = structuredClone(value)
  }
  return o
}
