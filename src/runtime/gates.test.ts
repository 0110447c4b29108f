/**
 * The gates' I/O against real servers (docs/controls.md § Health gates): instant queries through
 * the real Prometheus (a value, no data, several series, a refused query, no server), and the
 * evaluator's fail-closed timeout on a webhook that never answers.
 */
import { createServer } from 'node:http'
import type { Server } from 'node:http'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { freePort, startPrometheus } from '../../test-support/prometheus.js'
import type { TestPrometheus } from '../../test-support/prometheus.js'
import { fleet, scaleSetState, spec } from '../../test-support/builders.js'
import { startRollout } from '../core/rollout/start.js'
import { GateEvaluator, queryValue } from './gates.js'

let prom: TestPrometheus
let silent: Server
let silentUrl = ''
beforeAll(async () => {
  prom = await startPrometheus()
  silent = createServer(() => {
    /* never answers */
  })
  await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r))
  silentUrl = `http://127.0.0.1:${(silent.address() as { port: number }).port}/hook`
}, 30_000)
afterAll(async () => {
  await prom?.stop()
  silent?.closeAllConnections()
  await new Promise((r) => silent?.close(r))
})

const signal = () => AbortSignal.timeout(5_000)

describe('gate queries through the real Prometheus', () => {
  it('a value, no data, several series, a refused query, no server', async () => {
    expect(await queryValue(prom.url, 'vector(0.25)', signal())).toEqual({
      kind: 'value',
      value: 0.25,
    })
    expect(await queryValue(prom.url, 'scalar(vector(3))', signal())).toEqual({
      kind: 'value',
      value: 3,
    })
    expect(
      await queryValue(prom.url, 'sum(web_errors_total{version="9.9.9"})', signal()),
    ).toMatchObject({
      kind: 'inconclusive',
      reason: 'GateNoData',
    })
    const two = 'label_replace(vector(1), "a", "x", "", "") or vector(2)'
    expect(await queryValue(prom.url, two, signal())).toMatchObject({
      kind: 'fail',
      reason: 'GateQueryFailed',
      message: expect.stringMatching(/returned 2 series; a gate needs one value/),
    })
    expect(await queryValue(prom.url, 'sum(', signal())).toMatchObject({
      kind: 'fail',
      reason: 'GateQueryFailed',
      message: expect.stringMatching(/^Prometheus refused sum\(: .*parse error/),
    })
    const down = `http://127.0.0.1:${await freePort()}`
    expect(await queryValue(down, 'up', signal())).toMatchObject({
      kind: 'inconclusive',
      reason: 'GateUnreachable',
      message: `Prometheus at ${down} is unreachable: ECONNREFUSED`,
    })
  })

  it(
    'a webhook that never answers fails closed at the timeout (GateTimeout)',
    { timeout: 15_000 },
    async () => {
      const s = spec()
      const rollout = startRollout({
        id: 'r1',
        spec: s,
        request: {
          kind: 'OSImage',
          startedBy: 'Platform',
          target: { imageVersion: '1.1.0', modelGeneration: 1 },
          pace: 'batched',
          scope: null,
        },
        healthDeadlineMs: 300_000,
        nowMs: 0,
      })
      const r = {
        ...rollout,
        batchCount: 1,
        attempts: [
          {
            instanceId: '0',
            batch: 1,
            state: 'WaitingHealth' as const,
            method: 'reimage' as const,
            fromVersion: '1.0.0',
            fromGeneration: 1,
            surgeInstanceId: null,
            startedAtMs: 0,
            deadlineAtMs: 300_000,
            endedAtMs: null,
            failure: null,
            rollbackError: null,
          },
        ],
      }
      const instances = fleet(2).map((i) =>
        i.instanceId === '0' ? { ...i, osImageVersion: '1.1.0' } : i,
      )
      const state = {
        ...scaleSetState(s),
        healthGates: [
          {
            name: 'ask',
            kind: 'webhook' as const,
            url: silentUrl,
            timeoutMs: 1_000,
            intervalMs: 500,
          },
        ],
      }
      const changed: string[] = []
      const failures: string[] = []
      const gates = new GateEvaluator({
        onChange: (key) => changed.push(key),
        metrics: {
          gateEvaluation: () => {},
          gateFailure: (kind, reason) => failures.push(`${kind} ${reason}`),
        },
      })
      try {
        expect(gates.inputs(state, r, instances)?.instances['0']).toEqual({ status: 'pending' })
        const end = Date.now() + 10_000
        while (changed.length === 0 && Date.now() < end)
          await new Promise((res) => setTimeout(res, 20))
        expect(changed).toEqual([state.key])
        expect(gates.inputs(state, r, instances)?.instances['0']).toEqual({
          status: 'fail',
          gate: 'ask',
          reason: 'GateTimeout',
          message: `${silentUrl} did not answer within the gate's timeout`,
        })
        expect(failures).toEqual(['webhook GateTimeout'])
        // The rollout ended or the set is gone: nothing of it is kept.
        expect(gates.keptFor(state.key)).toBeGreaterThan(0)
        gates.forget(state.key)
        expect(gates.keptFor(state.key)).toBe(0)
        // An evaluation in flight is stopped too (its request aborted, no verdict later).
        gates.inputs(state, { ...r, id: 'r2' }, instances)
        expect(gates.keptFor(state.key)).toBe(1)
        gates.forget(state.key)
        expect(gates.keptFor(state.key)).toBe(0)
        await new Promise((res) => setTimeout(res, 1_200)) // past the gate's timeout
        expect(changed).toEqual([state.key])
      } finally {
        gates.close()
      }
    },
  )
})
