/**
 * Writes of a scale set's orchestrator state by the API: a change applied to the state as read,
 * retried on a revision conflict (another writer came first).
 */
import { AppError, Errors } from '../errors.js'
import type { ScaleSetState } from '../store/store.js'
import type { ServiceDeps } from './deps.js'

export async function updateState(
  deps: ServiceDeps,
  key: string,
  change: (s: ScaleSetState) => ScaleSetState,
): Promise<void> {
  for (let i = 0; i < 10; i++) {
    const s = await deps.store.getScaleSet(key)
    if (!s) throw Errors.NotFound(`Scale set ${key} was not found.`)
    try {
      await deps.store.putScaleSet(change(s), s.revision)
      return
    } catch (err) {
      if (!(err instanceof AppError && err.code === 'RevisionConflict')) throw err
    }
  }
  throw Errors.Conflict(`Scale set ${key} is being changed by another writer; try again.`)
}
