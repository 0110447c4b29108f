import { runPlanStoreContract } from '../plan-store.contract.js'
import { MemoryPlans } from './memory-plans.js'
import { runStoreContract } from '../store.contract.js'
import { MemoryStore } from './memory-store.js'

runStoreContract('memory', async () => ({ store: new MemoryStore(), close: async () => {} }))
runPlanStoreContract('memory', async () => ({ plans: new MemoryPlans(), close: async () => {} }))
