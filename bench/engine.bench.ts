/**
 * Engine benchmarks (issue 2), printed, never asserted: how long choosing the next batch takes
 * for a 10,000-instance set, and how many instance transitions per second the pure engine makes
 * on a virtual clock. `npm run bench -- --json` ends with one JSON line of the figures.
 */
import { performance } from 'node:perf_hooks'
import { chooseBatch, findCandidates } from '../src/core/rollout/batch.js'
import { planStep } from '../src/core/rollout/plan.js'
import { startRollout } from '../src/core/rollout/start.js'
import { batchSize } from '../src/core/rollout/thresholds.js'
import type { InstanceObservation, Rollout } from '../src/core/rollout/types.js'
import { fleet, spec } from '../test-support/builders.js'

const json = process.argv.includes('--json')
const N = 10_000
const s = spec({ capacity: N, zones: ['1', '2', '3'], platformFaultDomainCount: 1 })
const target = { imageVersion: '1.1.0', modelGeneration: 1 }
const newRollout = (): Rollout =>
  startRollout({
    id: 'b',
    spec: s,
    request: { kind: 'OSImage', startedBy: 'Platform', target, pace: 'batched', scope: null },
    healthDeadlineMs: 300_000,
    nowMs: 0,
  })

function chooseNextBatchMs(): { medianMs: number; p99Ms: number } {
  const instances = fleet(N, { zones: s.zones })
  const r = newRollout()
  const times: number[] = []
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now()
    const { eligible } = findCandidates(r, instances)
    chooseBatch(eligible, {
      size: batchSize(N, 20),
      zones: s.zones,
      crossZone: false,
      prioritizeUnhealthy: true,
      serviceFabric: false,
    })
    times.push(performance.now() - t0)
  }
  times.sort((a, b) => a - b)
  return { medianMs: times[100] as number, p99Ms: times[197] as number }
}

/** Runs a whole 10,000-instance rollout through planStep, applying each decision instantly. */
function transitionsPerSecond(): {
  transitions: number
  seconds: number
  perSecond: number
  batches: number
} {
  let instances: InstanceObservation[] = fleet(N, { zones: s.zones }).map((i) => ({
    ...i,
    updateDomain: 0,
  }))
  let r = newRollout()
  let now = 0
  let transitions = 0
  const t0 = performance.now()
  for (let step = 0; step < 100_000 && r.status === 'RollingForward'; step++) {
    const before = new Map(r.attempts.map((a) => [a.instanceId, a.state]))
    const out = planStep(
      {
        spec: s,
        instances,
        rollout: r,
        cancelRequestedAtMs: null,
        failures: [],
        nextInstanceId: N,
      },
      now,
    )
    for (const a of out.rollout.attempts) if (before.get(a.instanceId) !== a.state) transitions++
    const reimaged = new Set<string>()
    for (const a of out.actions)
      if (a.type === 'reimage') for (const id of a.instanceIds) reimaged.add(id)
    if (reimaged.size > 0) {
      instances = instances.map((i) =>
        reimaged.has(i.instanceId) ? { ...i, osImageVersion: '1.1.0', bootedAtMs: now } : i,
      )
    }
    r = out.rollout
    now += 1000
  }
  const seconds = (performance.now() - t0) / 1000
  if (r.status !== 'Completed') throw new Error(`benchmark rollout ended ${r.status}`)
  return { transitions, seconds, perSecond: transitions / seconds, batches: r.batchCount }
}

const choose = chooseNextBatchMs()
const run = transitionsPerSecond()
const rows: [string, string, string][] = [
  ['choose next batch, 10,000 instances (median)', `${choose.medianMs.toFixed(2)} ms`, '< 5 ms'],
  ['choose next batch, 10,000 instances (p99)', `${choose.p99Ms.toFixed(2)} ms`, ''],
  [
    'pure engine, instance transitions per second',
    `${Math.round(run.perSecond).toLocaleString('en-US')}/s`,
    '≥ 50,000/s',
  ],
  [
    '  (one rollout of 10,000 instances)',
    `${run.transitions.toLocaleString('en-US')} transitions, ${run.batches} batches, ${run.seconds.toFixed(2)} s`,
    '',
  ],
]
const width = Math.max(...rows.map((r) => r[0].length))
console.log(`${'benchmark'.padEnd(width)}  ${'measured'.padEnd(40)}  goal`)
for (const [name, value, goal] of rows)
  console.log(`${name.padEnd(width)}  ${value.padEnd(40)}  ${goal}`)
if (json) {
  console.log(
    JSON.stringify({
      'engine.choose_batch_10k_ms': Number(choose.medianMs.toFixed(3)),
      'engine.choose_batch_10k_p99_ms': Number(choose.p99Ms.toFixed(3)),
      'engine.instance_transitions_per_s': Math.round(run.perSecond),
    }),
  )
}
