import http from 'node:http'
import { afterAll, describe, expect, it } from 'vitest'
import { Prober, interpret } from './prober.js'
import type { ProbeTarget } from './prober.js'

const servers: http.Server[] = []
afterAll(() => servers.forEach((s) => s.close()))

async function serve(handler: http.RequestListener): Promise<number> {
  const s = http.createServer(handler)
  servers.push(s)
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r))
  return (s.address() as { port: number }).port
}

/** An HTTP binary probe of 127.0.0.1:`port` every 100 ms, threshold 1, changed by `o`. */
const target = (port: number, o: Partial<ProbeTarget> = {}): ProbeTarget => ({
  protocol: 'http',
  host: '127.0.0.1',
  port,
  requestPath: '/',
  intervalMs: 100,
  threshold: 1,
  mode: 'binary',
  gracePeriodMs: 0,
  ...o,
})

async function until(p: Prober, key: string, state: string, ms = 5000): Promise<number> {
  const t0 = Date.now()
  while (p.state(key) !== state) {
    if (Date.now() - t0 > ms) throw new Error(`${key} never ${state}; is ${p.state(key)}`)
    await new Promise((r) => setTimeout(r, 10))
  }
  return Date.now() - t0
}

describe('prober (docs/rollouts.md R5)', () => {
  it('interprets binary and rich answers', () => {
    expect(interpret({ mode: 'binary' }, 200, '')).toBe('healthy')
    expect(interpret({ mode: 'binary' }, 503, '')).toBe('unhealthy')
    expect(interpret({ mode: 'rich' }, 200, '{"ApplicationHealthState":"Healthy"}')).toBe('healthy')
    expect(interpret({ mode: 'rich' }, 200, '{"ApplicationHealthState":"Unhealthy"}')).toBe(
      'unhealthy',
    )
    expect(interpret({ mode: 'rich' }, 200, 'not json')).toBe('unknown')
    expect(interpret({ mode: 'rich' }, 500, '{"ApplicationHealthState":"Healthy"}')).toBe('unknown')
  })

  it('is Initializing first, healthy quickly, and flips after threshold consecutive failures', async () => {
    let ok = true
    const port = await serve((_req, res) => {
      res.writeHead(ok ? 200 : 503)
      res.end()
    })
    const p = new Prober({ tickMs: 10 })
    p.set('a', target(port, { intervalMs: 200, threshold: 2 }))
    expect(p.state('a')).toBe('initializing')
    expect(await until(p, 'a', 'healthy')).toBeLessThan(2000)
    ok = false
    await until(p, 'a', 'unhealthy')
    ok = true
    await until(p, 'a', 'healthy')
    p.close()
  })

  it('binary mode decides on the status line: a body that never ends does not stall the probe', async () => {
    const open: http.ServerResponse[] = []
    const port = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain' })
      res.write('streaming')
      open.push(res) // never ended
    })
    const p = new Prober({ tickMs: 10 })
    p.set('s', target(port))
    await until(p, 's', 'healthy', 4000)
    p.close()
    open.forEach((r) => r.destroy())
  })

  it('rich mode: Initializing until numberOfProbes identical answers; then the state; TCP probes', async () => {
    const port = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end('{"ApplicationHealthState":"Unhealthy"}')
    })
    const p = new Prober({ tickMs: 10 })
    p.set(
      'r',
      target(port, { requestPath: '/health', threshold: 3, mode: 'rich', gracePeriodMs: 60_000 }),
    )
    await until(p, 'r', 'unhealthy')
    p.set('t', target(port, { protocol: 'tcp' }))
    await until(p, 't', 'healthy')
    p.set('closed', target(9, { protocol: 'tcp' }))
    await until(p, 'closed', 'unhealthy')
    p.close()
  })

  it('rich mode: a grace period without a verdict ends in Unknown for http', async () => {
    const port = await serve((_req, res) => {
      res.writeHead(200)
      res.end('{"ApplicationHealthState":"Sleepy"}') // never a valid state
    })
    const p = new Prober({ tickMs: 10 })
    p.set('g', target(port, { intervalMs: 50, threshold: 24, mode: 'rich', gracePeriodMs: 300 }))
    await until(p, 'g', 'unknown')
    p.close()
  })

  it('tells the changes of one round together: a fast answer waits for the rest of its round', async () => {
    let slowAnsweredAt = 0
    const port = await serve((req, res) => {
      const answer = () => {
        res.writeHead(200)
        res.end()
      }
      if (req.url === '/slow') {
        setTimeout(() => {
          slowAnsweredAt = Date.now()
          answer()
        }, 150)
      } else answer()
    })
    const told = new Map<string, number>()
    const p = new Prober({ tickMs: 10, coalesceMs: 5000, onChange: (k) => told.set(k, Date.now()) })
    p.set('fast', target(port, { requestPath: '/fast', intervalMs: 1000 }))
    p.set('slow', target(port, { requestPath: '/slow', intervalMs: 1000 }))
    await until(p, 'slow', 'healthy')
    await until(p, 'fast', 'healthy')
    await new Promise((r) => setTimeout(r, 20))
    expect([...told.keys()].sort()).toEqual(['fast', 'slow'])
    // The fast target was healthy ~150 ms earlier, but told only once its round was answered.
    expect(told.get('fast')).toBeGreaterThanOrEqual(slowAnsweredAt)
    p.close()
  })

  it('a round that does not answer holds its changes back at most coalesceMs', async () => {
    const hanging: http.ServerResponse[] = []
    const port = await serve((req, res) => {
      if (req.url === '/hang') hanging.push(res)
      else {
        res.writeHead(200)
        res.end()
      }
    })
    const told = new Map<string, number>()
    const p = new Prober({ tickMs: 10, coalesceMs: 100, onChange: (k) => told.set(k, Date.now()) })
    const t0 = Date.now()
    p.set('fast', target(port, { requestPath: '/fast', intervalMs: 5000 }))
    p.set('hang', target(port, { requestPath: '/hang', intervalMs: 5000 }))
    await until(p, 'fast', 'healthy')
    while (!told.has('fast')) await new Promise((r) => setTimeout(r, 10))
    // Told after the cap, long before the hanging probe's timeout (4,950 ms).
    expect((told.get('fast') as number) - t0).toBeGreaterThanOrEqual(100)
    expect((told.get('fast') as number) - t0).toBeLessThan(3000)
    expect(told.has('hang')).toBe(false)
    p.close()
    hanging.forEach((r) => r.destroy())
  })
})
