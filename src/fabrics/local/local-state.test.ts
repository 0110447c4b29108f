import { runLocalStateContract } from './local-state.contract.js'
import { MemoryLocalState } from './local-state.js'

runLocalStateContract('memory', async () => ({
  state: new MemoryLocalState(),
  close: async () => {},
}))
