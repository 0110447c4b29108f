/**
 * The rollout plan's body (docs/api.md § Rollout plans) → a `WavePlanSpec`, or the problems
 * that refuse it (docs/rollouts.md § Waves across scale sets, W1). Only what the body alone
 * says is checked here; whether the sets exist, may be used by the caller and follow the image
 * is the service's (it reads the store).
 */
import { parseDurationMs } from '../duration.js'
import { fromArmImageReference } from '../image/image-ref.js'
import type { ArmImageReference, ImageReference } from '../image/image-ref.js'
import { problem } from '../problem.js'
import type { Problem } from '../problem.js'
import type { StageSpec, WavePlanSpec } from './wave.js'

export const MAX_STAGES = 20
export const MAX_SETS_PER_STAGE = 100
export const MAX_BAKE_MS = 7 * 86_400_000
const NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/
const SET_ID =
  /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Compute\/virtualMachineScaleSets\/[^/]+$/i
const PLAN_ID = /\/providers\/Osroll\.Upgrades\/rolloutPlans\//i

export type ParsedPlan = Readonly<
  { ok: true; spec: WavePlanSpec; setIds: readonly string[] } | { ok: false; problems: Problem[] }
>

/**
 * Parses `properties` of a PUT (or of a PATCH merged onto the stored body).
 * @example parsePlanBody({ properties: { imageReference: { id: '/subscriptions/s/resourceGroups/g/providers/Microsoft.Compute/galleries/gal/images/web' },
 *   stages: [{ name: 'canary', scaleSets: ['/subscriptions/s/…/virtualMachineScaleSets/a'], bakeTime: 'PT10M' }] } })
 *   → { ok: true, spec: { image: { kind: 'gallery', …, version: 'latest' }, stages: [{ name: 'canary', scaleSets: ['/subscriptions/s/…/a'], bakeMs: 600_000 }] } }
 */
export function parsePlanBody(body: unknown): ParsedPlan {
  const props = record(body) ? body['properties'] : undefined
  if (!record(props)) return fail('properties', 'The body needs a properties object.')
  for (const k of Object.keys(props))
    if (k !== 'imageReference' && k !== 'stages')
      return fail(`properties.${k}`, `Unknown member '${k}': a plan has imageReference and stages.`)
  const image = parseImage(props['imageReference'])
  if ('problem' in image) return { ok: false, problems: [image.problem] }
  const stagesIn = props['stages']
  if (!Array.isArray(stagesIn) || stagesIn.length === 0 || stagesIn.length > MAX_STAGES)
    return fail('properties.stages', `stages must be a list of 1 to ${MAX_STAGES} stages.`)
  const stages: StageSpec[] = []
  const seen = new Map<string, string>()
  const names = new Set<string>()
  const setIds: string[] = []
  for (const [i, s] of stagesIn.entries()) {
    const at = `properties.stages[${i}]`
    const parsed = parseStage(s, at)
    if ('problem' in parsed) return { ok: false, problems: [parsed.problem] }
    if (names.has(parsed.stage.name.toLowerCase()))
      return fail(`${at}.name`, `Two stages are named '${parsed.stage.name}'.`)
    names.add(parsed.stage.name.toLowerCase())
    for (const [j, id] of parsed.ids.entries()) {
      const key = id.toLowerCase()
      const first = seen.get(key)
      if (first !== undefined)
        return fail(
          `${at}.scaleSets[${j}]`,
          `The scale set ${id} is in ${first} and in ${at}: a set belongs to one stage of a plan.`,
        )
      seen.set(key, at)
      setIds.push(id)
    }
    stages.push(parsed.stage)
  }
  return { ok: true, spec: { image: image.image, stages }, setIds }
}

function parseImage(v: unknown): { image: ImageReference } | { problem: Problem } {
  const at = 'properties.imageReference'
  const bad = (message: string) => ({ problem: problem(at, message) })
  if (!record(v))
    return bad('imageReference must be an object: a gallery image id, or publisher, offer and sku.')
  for (const k of Object.keys(v))
    if (!['id', 'publisher', 'offer', 'sku', 'version'].includes(k))
      return { problem: problem(`${at}.${k}`, `Unknown member '${k}' of imageReference.`) }
  const version = v['version'] ?? 'latest'
  if (typeof version !== 'string' || version.toLowerCase() !== 'latest')
    return bad("A plan follows an image line: version must be 'latest' or absent.")
  const strings = ['id', 'publisher', 'offer', 'sku'].every(
    (k) => v[k] === undefined || (typeof v[k] === 'string' && v[k] !== ''),
  )
  if (!strings) return bad('id, publisher, offer and sku must be non-empty strings.')
  const ref = fromArmImageReference({ ...(v as ArmImageReference), version: 'latest' })
  if (ref === undefined || ref.kind === 'custom')
    return bad(
      'imageReference must name a gallery image definition (id) or a platform image (publisher, offer, sku).',
    )
  if (ref.kind === 'gallery' && /\/versions\//i.test(String(v['id'])))
    return bad('imageReference.id must name the image definition, not one of its versions.')
  return { image: ref }
}

function parseStage(
  s: unknown,
  at: string,
): { stage: StageSpec; ids: string[] } | { problem: Problem } {
  const bad = (target: string, message: string) => ({ problem: problem(target, message) })
  if (!record(s)) return bad(at, 'A stage is an object with name, scaleSets and bakeTime.')
  for (const k of Object.keys(s))
    if (!['name', 'scaleSets', 'bakeTime'].includes(k))
      return bad(`${at}.${k}`, `Unknown member '${k}': a stage has name, scaleSets and bakeTime.`)
  const name = s['name']
  if (typeof name !== 'string' || !NAME.test(name))
    return bad(
      `${at}.name`,
      'A stage name has 1 to 64 letters, digits, _ . or -, starting with a letter or digit.',
    )
  const sets = s['scaleSets']
  if (!Array.isArray(sets) || sets.length === 0)
    return bad(`${at}.scaleSets`, `Stage '${name}' has no scale sets: a stage lists at least one.`)
  if (sets.length > MAX_SETS_PER_STAGE)
    return bad(
      `${at}.scaleSets`,
      `Stage '${name}' lists more than ${MAX_SETS_PER_STAGE} scale sets.`,
    )
  for (const [j, id] of sets.entries()) {
    if (typeof id === 'string' && PLAN_ID.test(id))
      return bad(`${at}.scaleSets[${j}]`, 'A stage lists scale sets, not plans: plans do not nest.')
    if (typeof id !== 'string' || !SET_ID.test(id))
      return bad(
        `${at}.scaleSets[${j}]`,
        'Each member is a scale set id (/subscriptions/…/virtualMachineScaleSets/NAME).',
      )
  }
  const bake = s['bakeTime'] ?? 'PT0S'
  const bakeMs = typeof bake === 'string' ? parseDurationMs(bake) : undefined
  if (bakeMs === undefined || bakeMs > MAX_BAKE_MS)
    return bad(`${at}.bakeTime`, 'bakeTime is an ISO 8601 duration from PT0S to P7D, e.g. PT30M.')
  const ids = sets as string[]
  return { stage: { name, scaleSets: ids.map((id) => id.toLowerCase()), bakeMs }, ids }
}

function fail(target: string, message: string): ParsedPlan {
  return { ok: false, problems: [problem(target, message)] }
}

function record(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}
