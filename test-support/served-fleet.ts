/**
 * An in-process osroll on the sim fabric, listening on loopback, with a fleet of `capacity`
 * healthy instances behind a TCP probe, and the CLI bound to it: what the tests of osroll's own
 * rollout controls share (they drive both the API and the CLI).
 */
import { apiHarness, waitFor } from './api-harness.js'
import { armPaths, createSimFleet, healthyInstances } from './arm-fixtures.js'
import { cliRunner } from './cli-runner.js'
import type { CommandResult } from './run-command.js'

export type ServedFleet = Readonly<{
  h: Awaited<ReturnType<typeof apiHarness>>
  /** `h.call` with a body as its third argument. */
  call: (method: string, path: string, body?: unknown) => Promise<{ status: number; body: any }>
  osroll: (...args: string[]) => Promise<CommandResult>
  close: () => Promise<void>
}>

export async function servedSimFleet(o: {
  capacity: number
  healthDeadline?: string
}): Promise<ServedFleet> {
  const h = await apiHarness(o.healthDeadline ? { healthDeadline: o.healthDeadline } : {})
  await h.sys.app.listen({ host: '127.0.0.1', port: 0 })
  const endpoint = `http://127.0.0.1:${(h.sys.app.server.address() as { port: number }).port}`
  const call: ServedFleet['call'] = (method, path, body) =>
    h.call(method, path, body === undefined ? {} : { body })
  await createSimFleet(call, h.sub, { capacity: o.capacity })
  const get = async (path: string) => (await h.call('GET', path)).body
  const set = armPaths(h.sub).set()
  await waitFor(() => healthyInstances(get, set, o.capacity), 'a healthy fleet', 30_000)
  const osroll = cliRunner(() => ({ endpoint, token: h.sys.adminToken }))
  return { h, call, osroll, close: () => h.close() }
}
