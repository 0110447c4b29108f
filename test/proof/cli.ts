/**
 * `npm run proof -- --seeds N [--fuzz M] [--kills K] [--from S]` (issue 8): the reliability
 * campaign. It runs N random scenarios of the deterministic simulator (the real engine, every
 * invariant checked after every step), M generated adversarial API requests, and K SIGKILLs of
 * `osroll serve` in the middle of local-fabric rollouts. Each finding is printed; the last line
 * is exactly `scenarios: N, violations: V` (V over all three campaigns).
 */
import { Command } from 'commander'
import { runScenario } from '../simulation/harness.js'
import { generateScenario } from '../simulation/generate.js'
import { runApiFuzz } from '../fuzz/api-fuzz.js'
import { runKillCampaign } from './kill-campaign.js'

const o = new Command('proof')
  .option('--seeds <n>', 'simulated scenarios', (v) => Number(v), 1000)
  .option('--from <n>', 'first seed', (v) => Number(v), 1)
  .option('--fuzz <n>', 'generated API requests', (v) => Number(v), 100_000)
  .option('--kills <n>', 'SIGKILLs of osroll serve on the local fabric', (v) => Number(v), 50)
  .parse()
  .opts<{ seeds: number; from: number; fuzz: number; kills: number }>()

let violations = 0
const started = Date.now()
const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)} s`

console.log(`simulation: ${o.seeds} scenarios from seed ${o.from}…`)
let simViolations = 0
for (let seed = o.from; seed < o.from + o.seeds; seed++) {
  const r = await runScenario(generateScenario(seed))
  if (r.violations.length > 0) {
    simViolations += r.violations.length
    console.log(`  seed ${seed}: ${r.violations.length} violation(s); first: ${r.violations[0]}`)
  }
  if ((seed - o.from + 1) % 10_000 === 0)
    console.log(`  ${seed - o.from + 1} scenarios (${elapsed()})`)
}
console.log(`simulation: ${o.seeds} scenarios, ${simViolations} violations (${elapsed()})`)
violations += simViolations

if (o.fuzz > 0) {
  const seed = o.from
  console.log(`API fuzzing: ${o.fuzz} requests, seed ${seed}…`)
  const r = await runApiFuzz({ runs: o.fuzz, seed })
  for (const v of r.violations) console.log(`  ${v.slice(0, 500)}`)
  console.log(
    `API fuzzing: ${r.requests} requests, ${r.violations.length} violations (${elapsed()})`,
  )
  console.log(
    `  authorization oracle: ${r.authzRequests} mutated routes judged, ${r.forbidden} forbidden to their token, ${r.authzViolations} authorization violations`,
  )
  violations += r.violations.length
}

if (o.kills > 0) {
  console.log(`kill campaign: ${o.kills} SIGKILLs of osroll serve mid-rollout (local fabric)…`)
  const r = await runKillCampaign({
    kills: o.kills,
    seed: o.from,
    log: (line) => console.log(`  ${line}`),
  })
  for (const v of r.violations) console.log(`  ${v}`)
  console.log(`kill campaign: ${r.kills} kills, ${r.violations.length} violations (${elapsed()})`)
  violations += r.violations.length
}

console.log(`scenarios: ${o.seeds}, violations: ${violations}`)
process.exit(violations === 0 ? 0 : 1)
