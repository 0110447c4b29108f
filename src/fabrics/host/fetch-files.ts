/**
 * Custom Script `fileUris` downloads (`fetchFileUris`): a small Node program (`FETCH_PROGRAM`)
 * that refuses what the operator did not allow — `file://` outside `--file-uri-roots`, loopback,
 * link-local and unspecified addresses (after DNS resolution and on every redirect) unless
 * `--file-uri-allow-local`, and anything over `--file-uri-max-bytes`. The local fabric runs it
 * in the instance's sandbox, from the instance's network view; the qemu fabric on the host, for
 * the guest (docs/qemu.md § The guest agent). Credentials of fileUris (user-info, query) never
 * reach a message (`redact`, `scrubber`).
 */
import type { DownloadPolicy } from '../types/local-options.js'
import { runCommand, type HostCommand } from './commands.js'

export const DEFAULT_DOWNLOAD_POLICY: DownloadPolicy = {
  fileRoots: [],
  maxBytes: 256 * 1024 * 1024,
  allowLocal: false,
}

/** The job the program gets as its one argument (JSON). */
export type FetchJob = Readonly<{
  uris: readonly string[]
  dir: string
  timeoutMs: number
  policy: DownloadPolicy
}>

/**
 * The download program, run as `node -e FETCH_PROGRAM '<FetchJob JSON>'`. It exits 0 when every
 * file is in `dir`, else prints `{"index": i, "error": "…"}` (which URI failed and why, never
 * the URI itself) and exits 1. Plain CommonJS with no imports of osroll: it runs on its own.
 */
export const FETCH_PROGRAM = String.raw`'use strict'
const fs = require('node:fs')
const path = require('node:path')
const dns = require('node:dns')
const net = require('node:net')
const http = require('node:http')
const https = require('node:https')
const { fileURLToPath } = require('node:url')
const job = JSON.parse(process.argv[1])
const policy = job.policy

class Refused extends Error {}

function groups6(ip) {
  const h = new URL('http://[' + ip.replace(/%.*$/, '') + ']/').hostname.slice(1, -1)
  const parts = h.split('::')
  const left = parts[0] ? parts[0].split(':') : []
  const right = parts.length > 1 && parts[1] ? parts[1].split(':') : []
  const fill = parts.length > 1 ? Array(8 - left.length - right.length).fill('0') : []
  return [...left, ...fill, ...right].map((g) => parseInt(g, 16))
}

function isLocal(ip) {
  if (net.isIPv4(ip)) {
    const [a, b] = ip.split('.').map(Number)
    return a === 127 || a === 0 || (a === 169 && b === 254)
  }
  if (!net.isIPv6(ip)) return false
  const g = groups6(ip)
  const zeros = (from, to) => g.slice(from, to).every((x) => x === 0)
  if (zeros(0, 8)) return true // ::
  if (zeros(0, 7) && g[7] === 1) return true // ::1
  if ((g[0] & 0xffc0) === 0xfe80) return true // fe80::/10
  const v4 = (hi, lo) => [hi >> 8, hi & 255, lo >> 8, lo & 255].join('.')
  if (zeros(0, 5) && (g[5] === 0xffff || g[5] === 0)) return isLocal(v4(g[6], g[7])) // mapped
  if (g[0] === 0x64 && g[1] === 0xff9b && zeros(2, 6)) return isLocal(v4(g[6], g[7])) // NAT64
  return false
}

function refuseLocal(address) {
  if (!policy.allowLocal && isLocal(address))
    throw new Refused(
      "'" + address + "' is a loopback, link-local or unspecified address, which fileUris may " +
        'not reach unless the operator allows it (--file-uri-allow-local)',
    )
}

function lookup(hostname, options, callback) {
  dns.lookup(hostname, { all: true, family: options.family || 0 }, (err, addresses) => {
    if (err) return callback(err)
    try {
      for (const a of addresses) refuseLocal(a.address)
    } catch (e) {
      return callback(e)
    }
    if (options.all) return callback(null, addresses)
    callback(null, addresses[0].address, addresses[0].family)
  })
}

function fileName(url) {
  const name = path.posix.basename(decodeURIComponent(url.pathname))
  return name && name !== '.' && name !== '..' && !/[\\/\0]/.test(name) ? name : 'download'
}

function tooBig() {
  return new Refused('the file is larger than the ' + policy.maxBytes + ' bytes allowed (--file-uri-max-bytes)')
}

function copyLocal(url) {
  if (policy.fileRoots.length === 0)
    throw new Refused('file:// fileUris are refused: the operator allows them only under --file-uri-roots')
  const real = fs.realpathSync(fileURLToPath(url))
  const inside = policy.fileRoots.some((root) => {
    const r = path.relative(fs.realpathSync(root), real)
    return r !== '' && !r.startsWith('..') && !path.isAbsolute(r)
  })
  if (!inside) throw new Refused('the file is not under one of the --file-uri-roots')
  if (fs.statSync(real).size > policy.maxBytes) throw tooBig()
  const file = path.join(job.dir, fileName(url))
  fs.rmSync(file, { force: true })
  fs.copyFileSync(real, file)
}

function get(url, hops) {
  return new Promise((resolve, reject) => {
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      return reject(new Refused(hops > 0 ? 'a redirect to ' + url.protocol + ' is refused' : "the scheme '" + url.protocol + "' is not one of file, http, https"))
    const host = url.hostname.replace(/^\[|\]$/g, '')
    if (net.isIP(host)) refuseLocal(host)
    const lib = url.protocol === 'https:' ? https : http
    let cleanup = () => {}
    const fail = (err) => {
      cleanup()
      reject(err)
    }
    const req = lib.get(url, { lookup, timeout: job.timeoutMs }, (res) => {
      const status = res.statusCode || 0
      if (status >= 300 && status < 400 && res.headers.location) {
        res.resume()
        if (hops >= 5) return reject(new Refused('more than 5 redirects'))
        return get(new URL(res.headers.location, url), hops + 1).then(resolve, reject)
      }
      if (status < 200 || status >= 300) {
        res.resume()
        return reject(new Refused('the server answered HTTP ' + status + (status === 403 ? ' (an expired or wrong token?)' : '')))
      }
      if (Number(res.headers['content-length'] || 0) > policy.maxBytes) {
        res.destroy()
        return reject(tooBig())
      }
      const file = path.join(job.dir, fileName(url))
      fs.rmSync(file, { force: true })
      // Opened here, synchronously, so that a refused or broken download (over the cap, cut
      // off, timed out) removes its partial file for certain: see fail.
      const out = fs.createWriteStream(file, { fd: fs.openSync(file, 'wx') })
      cleanup = () => {
        out.destroy()
        fs.rmSync(file, { force: true })
      }
      let bytes = 0
      res.on('data', (chunk) => {
        bytes += chunk.length
        if (bytes > policy.maxBytes) res.destroy(tooBig())
      })
      res.on('error', fail)
      out.on('error', fail)
      out.on('finish', resolve)
      res.pipe(out)
    })
    req.on('timeout', () => req.destroy(new Refused('no answer within ' + Math.round(job.timeoutMs / 1000) + ' s')))
    req.on('error', fail)
  })
}

async function main() {
  for (let index = 0; index < job.uris.length; index++) {
    try {
      const url = new URL(job.uris[index])
      if (url.protocol === 'file:') copyLocal(url)
      else await get(url, 0)
    } catch (err) {
      const error = String(err && err.message)
      process.stdout.write(JSON.stringify({ index, error }) + '\n')
      process.exit(1)
    }
  }
}
main()
`

/** The longest one download may take, whatever is left of the extensions' time budget. */
export const DOWNLOAD_TIMEOUT_MS = 30_000
const OUTPUT_TAIL = 2_000

/** Which fileUri failed and why (the URI itself never in `error`). */
export type DownloadProblem = Readonly<{ index: number; error: string }>

/**
 * Downloads `uris` into `dir` with `FETCH_PROGRAM`, run as `wrap` makes it (the local fabric's
 * sandbox; by default as osroll); which failed and why, or null when every file is there.
 */
export async function fetchFileUris(o: {
  uris: readonly string[]
  dir: string
  timeoutMs: number
  policy: DownloadPolicy
  env: Record<string, string>
  wrap?: (command: string, args: readonly string[], cwd: string) => HostCommand
}): Promise<DownloadProblem | null> {
  if (o.uris.length === 0) return null
  const timeoutMs = o.timeoutMs
  const job: FetchJob = {
    uris: o.uris,
    dir: o.dir,
    timeoutMs: Math.min(DOWNLOAD_TIMEOUT_MS, timeoutMs),
    policy: o.policy,
  }
  const args = ['-e', FETCH_PROGRAM, JSON.stringify(job)]
  const wrap = o.wrap ?? ((command, a, cwd) => ({ command, args: a, cwd }))
  const r = await runCommand(wrap(process.execPath, args, o.dir), o.env, timeoutMs)
  if (r.code === 0) return null
  const last = r.output.trim().split('\n').pop() ?? ''
  try {
    const told = JSON.parse(last) as { index: number; error: string }
    if (typeof told.index === 'number' && typeof told.error === 'string') return told
  } catch {
    /* not the program's answer: it did not run to its end */
  }
  const why = r.timedOut
    ? `not done within ${Math.round(timeoutMs / 1000)} s`
    : r.output.slice(-OUTPUT_TAIL)
  return { index: 0, error: `the download did not complete (${why.trim()})` }
}

/**
 * The extension's message for a failed download, credentials scrubbed.
 * @example downloadFailure(['https://h/x.sh?sig=abc'], { index: 0, error: 'the server answered HTTP 403' })
 *   → "Failed to download file 'https://h/x.sh?***': the server answered HTTP 403"
 */
export function downloadFailure(uris: readonly string[], problem: DownloadProblem): string {
  return scrubber(uris)(
    `Failed to download file '${redact(uris[problem.index] ?? '')}': ${problem.error}`,
  )
}

/**
 * A fileUri fit to show: user-info and query (SAS tokens) replaced.
 * @example redact('https://u:p@h/x.sh?sig=abc') → 'https://***@h/x.sh?***'
 */
export function redact(uri: string): string {
  try {
    const url = new URL(uri)
    const auth = url.username || url.password ? '***@' : ''
    const query = url.search ? '?***' : ''
    return `${url.protocol}//${auth}${url.host}${url.pathname}${query}`
  } catch {
    return uri.replace(/\/\/[^/]*@/, '//***@').replace(/\?.*$/, '?***')
  }
}

/**
 * Removes every credential of these fileUris from a text (an error of the HTTP client, a
 * command's output): the whole URIs, their passwords and user names, queries and query values.
 */
export function scrubber(uris: readonly string[]): (text: string) => string {
  const secrets = new Set<string>()
  for (const uri of uris) {
    secrets.add(uri)
    try {
      const url = new URL(uri)
      for (const s of [url.href, url.search.slice(1), url.password, url.username])
        if (s.length >= 3) secrets.add(s)
      for (const [, v] of url.searchParams) if (v.length >= 3) secrets.add(v)
      for (const s of [url.password, url.username, url.search.slice(1)])
        if (s.length >= 3) secrets.add(decoded(s))
    } catch {
      const q = uri.indexOf('?')
      if (q >= 0) secrets.add(uri.slice(q + 1))
    }
  }
  const list = [...secrets].sort((a, b) => b.length - a.length)
  return (text) => {
    let out = text
    for (const uri of uris) out = out.split(uri).join(redact(uri))
    for (const s of list) out = out.split(s).join('***')
    return out
  }
}

function decoded(s: string): string {
  try {
    return decodeURIComponent(s)
  } catch {
    return s
  }
}
