/**
 * The `osroll` command line: parses arguments and dispatches to the commands. Each command lives
 * in its own module; this file only wires them (the client commands arrive with the API).
 */
import { Command } from 'commander'
import { createRequire } from 'node:module'
import { registerServe } from './serve.js'
import { registerToken } from './token.js'
import { registerVmss } from './vmss.js'
import { registerImages } from './images.js'
import { registerNetwork } from './network.js'
import { registerSig } from './sig.js'
import { registerDemo } from './demo.js'
import { registerGroup } from './group.js'
import { registerRolloutPlan } from './rollout-plan.js'
import { registerHost } from './host.js'

const require = createRequire(import.meta.url)
const pkg = require('../../package.json') as { version: string }

const program = new Command('osroll')
  .description('Self-hosted control plane for VM scale sets with automatic OS image upgrades')
  .version(pkg.version)
  .showHelpAfterError()
  // Program options (--version) only before a command: `image publish --version 1.2.0` is the image's.
  .enablePositionalOptions()

registerServe(program)
registerToken(program)
registerGroup(program)
registerVmss(program)
registerRolloutPlan(program)
registerHost(program)
registerImages(program)
registerNetwork(program)
registerSig(program)
registerDemo(program)

await program.parseAsync(process.argv)
