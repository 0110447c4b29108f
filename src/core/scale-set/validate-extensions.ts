/**
 * The checks of a scale set's extensions: names, handlers the fabric provides, the order of
 * `provisionAfterExtensions`, the Application Health extension's settings and a Service Fabric
 * extension's node type and durability.
 */
import type { Problem } from '../problem.js'
import { problem } from '../problem.js'
import type { ArmExtension, ArmScaleSet } from './arm-model.js'
import { isApplicationHealthExtension } from './arm-model.js'
import { durabilityMismatchMessage } from './service-fabric.js'
import type { ValidationFacts } from './validation-facts.js'
import { P_EXT, extensionsOf } from './validation-facts.js'

export function checkExtensions(model: ArmScaleSet, facts: ValidationFacts): Problem[] {
  const extensions = extensionsOf(model)
  const out: Problem[] = []
  const names = new Map<string, number>()
  extensions.forEach((ext, i) => {
    const target = `${P_EXT}[${i}]`
    if (typeof ext.name !== 'string' || ext.name === '') {
      out.push(problem(`${target}.name`, 'Every extension needs a name.'))
      return
    }
    if (names.has(ext.name.toLowerCase())) {
      out.push(problem(`${target}.name`, `Extension name '${ext.name}' is used twice.`))
    }
    names.set(ext.name.toLowerCase(), i)
    const p = ext.properties
    if (!p?.publisher || !p.type) {
      out.push(
        problem(`${target}.properties`, `Extension '${ext.name}' needs a publisher and a type.`),
      )
      return
    }
    if (!facts.extensionHandlers.has(`${p.publisher}.${p.type}`.toLowerCase())) {
      out.push(
        problem(
          `${target}.properties.type`,
          `Extension '${ext.name}' of type '${p.publisher}.${p.type}' is not available on fabric '${facts.fabricName}'.`,
        ),
      )
    }
  })
  extensions.forEach((ext, i) => {
    if (isApplicationHealthExtension(ext))
      out.push(...checkApplicationHealthSettings(ext, `${P_EXT}[${i}].properties.settings`))
  })
  extensions.forEach((ext, i) => {
    for (const dep of ext.properties?.provisionAfterExtensions ?? []) {
      if (!names.has(dep.toLowerCase())) {
        out.push(
          problem(
            `${P_EXT}[${i}].properties.provisionAfterExtensions`,
            `Extension '${ext.name}' is to be provisioned after extension '${dep}', which is not in the model.`,
          ),
        )
      }
    }
  })
  const cycle = findCycle(extensions)
  if (cycle) {
    out.push(
      problem(
        `${P_EXT}`,
        `The provisionAfterExtensions of extensions form a cycle: ${cycle.join(' -> ')}.`,
      ),
    )
  }
  return out
}

export function checkServiceFabric(sf: ArmExtension, facts: ValidationFacts): Problem[] {
  const out: Problem[] = []
  const target = `${P_EXT}.${sf.name}`
  const settings = sf.properties?.settings ?? {}
  const durability = String(settings['durabilityLevel'] ?? '')
  if (!['Silver', 'Gold'].includes(durability)) {
    out.push(
      problem(
        target,
        `Automatic OS Upgrade of a Service Fabric scale set requires durability level Silver or Gold; the extension has '${durability || 'Bronze'}'.`,
      ),
    )
  }
  const [major, minor] = String(sf.properties?.typeHandlerVersion ?? '0.0')
    .split('.')
    .map(Number)
  if ((major ?? 0) < 1 || ((major ?? 0) === 1 && (minor ?? 0) < 1)) {
    out.push(
      problem(
        `${target}.typeHandlerVersion`,
        'Automatic OS Upgrade of a Service Fabric scale set requires Service Fabric extension typeHandlerVersion 1.1 or later.',
      ),
    )
  }
  const clusterDurability = facts.serviceFabricNodeTypeDurability
  if (clusterDurability !== undefined && durability !== '' && clusterDurability !== durability) {
    const nt = String(settings['nodeTypeRef'] ?? '')
    out.push(
      problem(
        target,
        durabilityMismatchMessage(nt, durability, clusterDurability),
        'OperationNotAllowed',
        409,
      ),
    )
  }
  return out
}

/** The first cycle of `provisionAfterExtensions`, as names, or undefined. */
function findCycle(extensions: readonly ArmExtension[]): string[] | undefined {
  const byName = new Map(extensions.map((e) => [String(e.name).toLowerCase(), e]))
  const state = new Map<string, 'visiting' | 'done'>()
  const stack: string[] = []
  const visit = (key: string): string[] | undefined => {
    if (state.get(key) === 'done') return undefined
    if (state.get(key) === 'visiting') {
      const from = stack.indexOf(key)
      return [...stack.slice(from), key].map((k) => String(byName.get(k)?.name ?? k))
    }
    state.set(key, 'visiting')
    stack.push(key)
    for (const dep of byName.get(key)?.properties?.provisionAfterExtensions ?? []) {
      if (!byName.has(dep.toLowerCase())) continue
      const found = visit(dep.toLowerCase())
      if (found) return found
    }
    stack.pop()
    state.set(key, 'done')
    return undefined
  }
  for (const key of byName.keys()) {
    const found = visit(key)
    if (found) return found
  }
  return undefined
}

/**
 * Application Health extension settings (docs/rollouts.md R5): protocol, port, path and the ranges.
 */
function checkApplicationHealthSettings(ext: ArmExtension, target: string): Problem[] {
  const s = ext.properties?.settings ?? {}
  const out: Problem[] = []
  const protocol = s['protocol'] ?? 'http'
  if (!['http', 'https', 'tcp'].includes(String(protocol)))
    out.push(
      problem(
        `${target}.protocol`,
        `protocol '${String(protocol)}' is not one of http, https, tcp.`,
      ),
    )
  const port = s['port']
  if (!Number.isInteger(port) || (port as number) < 1 || (port as number) > 65535)
    out.push(problem(`${target}.port`, 'port must be an integer from 1 to 65535.'))
  const ranges: [string, number, number][] = [
    ['intervalInSeconds', 5, 60],
    ['numberOfProbes', 1, 24],
    ['gracePeriod', 0, 14400],
  ]
  for (const [name, min, max] of ranges) {
    const v = s[name]
    if (v !== undefined && (!Number.isInteger(v) || (v as number) < min || (v as number) > max)) {
      out.push(problem(`${target}.${name}`, `${name} must be an integer from ${min} to ${max}.`))
    }
  }
  return out
}
