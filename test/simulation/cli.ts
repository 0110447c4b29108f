/**
 * `npm run sim -- --seed S` replays one random scenario and prints its transcript;
 * `--canonical NAME` runs a canonical one; `--seeds N [--from S]` runs many and prints
 * `scenarios: N, violations: V`. `--queue` runs them through the real orchestrator's queue
 * (`queue-harness.ts`) instead of the step loop.
 */
import { Command } from 'commander'
import { runScenario as runSteps } from './harness.js'
import { runQueueScenario } from './queue-harness.js'
import { generateScenario } from './generate.js'
import { CANONICAL } from './canonical.js'

const program = new Command('sim')
  .option('--seed <n>', 'replay one random scenario', (v) => Number(v))
  .option('--canonical <name>', 'run a canonical scenario by name')
  .option('--seeds <n>', 'run this many random scenarios', (v) => Number(v))
  .option('--from <n>', 'first seed of --seeds', (v) => Number(v), 1)
  .option('--queue', "drive the real orchestrator's queue, backoff and wake-ups")
  .parse()
const o = program.opts<{
  seed?: number
  canonical?: string
  seeds?: number
  from: number
  queue?: boolean
}>()
const runScenario = o.queue ? runQueueScenario : runSteps

if (o.canonical !== undefined) {
  const s = CANONICAL.find((c) => c.name === o.canonical)
  if (!s) {
    console.error(
      `no canonical scenario '${o.canonical}'; try: ${CANONICAL.map((c) => c.name).join(', ')}`,
    )
    process.exit(2)
  }
  await printOne(s)
} else if (o.seed !== undefined) {
  await printOne(generateScenario(o.seed))
} else {
  const count = o.seeds ?? 100
  let violations = 0
  for (let seed = o.from; seed < o.from + count; seed++) {
    const r = await runScenario(generateScenario(seed))
    if (r.violations.length > 0) {
      violations += r.violations.length
      console.log(`seed ${seed}: ${r.violations.length} violation(s); first: ${r.violations[0]}`)
    }
  }
  console.log(`scenarios: ${count}, violations: ${violations}`)
  process.exitCode = violations === 0 ? 0 : 1
}

async function printOne(s: Parameters<typeof runSteps>[0]): Promise<void> {
  const r = await runScenario(s)
  for (const line of r.transcript) console.log(line)
  for (const v of r.violations) console.log(`VIOLATION ${v}`)
  console.log(`seed ${s.seed}: ${r.steps} steps, ${r.violations.length} violation(s)`)
  process.exitCode = r.violations.length === 0 ? 0 : 1
}
