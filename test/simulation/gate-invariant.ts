/**
 * The health gates' invariant (docs/controls.md § Health gates), checked after every step: an
 * instance counts as upgraded only after its gates passed (instance gates for it, cohort gates
 * for its batch); an instance whose gate failed is never counted upgraded, and it ends with a
 * failure recorded. A gate that has not answered is never a pass.
 */
import { isTerminal } from '../../src/core/rollout/progress.js'
import type { Rollout } from '../../src/core/rollout/types.js'
import type { SimGatePlan, SimGates } from './sim-gates.js'

export class GateInvariant {
  constructor(
    private readonly plan: SimGatePlan,
    private readonly gates: SimGates,
    private readonly fail: (message: string) => void,
  ) {}

  check(at: string, rollouts: readonly Rollout[]): void {
    for (const r of rollouts) {
      if (r.pace !== 'batched') continue
      for (const a of r.attempts) {
        const own = this.gates.handed.get(`${r.id}|i|${a.instanceId}`)
        const batch = this.gates.handed.get(`${r.id}|b|${a.batch}`)
        const where = `${at} rollout ${r.id}: instance ${a.instanceId} (batch ${a.batch})`
        if (a.state === 'Succeeded') {
          if (this.plan.instance && own !== 'pass')
            this.fail(`${where} counted upgraded with its instance gates ${own ?? 'never asked'}`)
          if (this.plan.cohort && batch !== 'pass')
            this.fail(`${where} counted upgraded with its cohort gates ${batch ?? 'never asked'}`)
        }
        const gateFailed = own === 'fail' || batch === 'fail'
        // A removed or skipped instance (docs/rollouts.md § Lifecycle hooks) left the batch first.
        const left = a.state === 'Removed' || a.state === 'Skipped'
        if (gateFailed && isTerminal(a) && !left && a.failure === null)
          this.fail(`${where} ended ${a.state} after a gate failed, with no failure recorded`)
      }
    }
  }
}
