/**
 * Golden per-instance timelines (issue 20 §8, docs/rollouts.md § Per-instance timeline): for
 * canonical scenarios that exercise each kind of step — a rollback, minHealthyTime, deferral with
 * approval, a surge — every rollout's timeline rendered one line per instance, in the simulator's
 * time. `UPDATE_GOLDEN=1` rewrites them after a deliberate change, like the transcripts.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { rolloutTimeline } from '../../src/core/rollout/timeline.js'
import type { RolloutTimeline } from '../../src/core/rollout/timeline.js'
import { CANONICAL } from './canonical.js'
import { runScenario } from './harness.js'

const dir = fileURLToPath(new URL('./golden/', import.meta.url))
const SCENARIOS = [
  'broken-image-rollback',
  'min-healthy-time',
  'deferral-approve',
  'max-surge',
  'lifecycle-hooks',
]

const sec = (ms: number) => `${ms / 1000}s`

function render(t: RolloutTimeline): string[] {
  const lines = [
    `rollout ${t.rolloutId} ${t.status} ${sec(t.startedAtMs)}–${t.endedAtMs === null ? '…' : sec(t.endedAtMs)}`,
  ]
  for (const b of t.batches)
    lines.push(
      `  batch ${b.batch} [${b.instanceIds.join(',')}] ${sec(b.startedAtMs)}–${b.endedAtMs === null ? '…' : sec(b.endedAtMs)}`,
    )
  for (const i of t.instances) {
    const steps = i.steps.map(
      (s) =>
        `${s.step}@${sec(s.atMs)}${s.reason ? `(${s.reason})` : ''}` +
        (s.step === 'hookAnswered' && s.hook
          ? `[${s.hook.hook} ${s.hook.answer} ${s.hook.source}${s.hook.cause ? ` ${s.hook.cause}` : ''}]`
          : ''),
    )
    lines.push(
      `  ${i.instanceId} batch ${i.batch} ${i.method} → ${i.outcome ?? i.state}: ${steps.join(' ')}`,
    )
  }
  for (const s of t.rolloutSteps) lines.push(`  ${sec(s.atMs)} ${s.from} → ${s.to} (${s.reason})`)
  return lines
}

describe('per-instance timelines of canonical scenarios (golden)', () => {
  for (const name of SCENARIOS) {
    it(name, async () => {
      const r = await runScenario(CANONICAL.find((c) => c.name === name)!)
      expect(r.violations).toEqual([])
      const text =
        [...r.rollouts]
          .sort((a, b) => a.startedAtMs - b.startedAtMs || a.id.localeCompare(b.id))
          .flatMap((ro) => render(rolloutTimeline(ro, r.events)))
          .join('\n') + '\n'
      const file = `${dir}timeline-${name}.log`
      if (process.env['UPDATE_GOLDEN'] === '1') writeFileSync(file, text)
      else if (!existsSync(file))
        throw new Error(`golden file ${file} is missing: run with UPDATE_GOLDEN=1 to write it`)
      expect(text).toBe(readFileSync(file, 'utf8'))
    })
  }
})
