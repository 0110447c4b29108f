import { runStoreContract } from '../store.contract.js'
import { MemoryStore } from './memory-store.js'

runStoreContract('memory', async () => ({ store: new MemoryStore(), close: async () => {} }))
