/**
 * Resource tags (issue 15, ARM's limits): an object of at most 50 string values, each name 1 to
 * 512 characters without `< > % & \ ? /` or control characters, each value at most 256
 * characters. Checked on every PUT before anything is stored.
 */
import type { Problem } from './problem.js'
import { problem } from './problem.js'
import { quoteName } from './names.js'

export const TAG_LIMITS = { count: 50, nameLength: 512, valueLength: 256 } as const

const RESERVED = /[<>%&\\?/\p{Cc}]/u

/**
 * The first problem of a body's `tags`, or undefined when they are absent or valid.
 * @example tagsProblem({ a: 'x'.repeat(300) }) → { code: 'InvalidTag', target: 'tags.a', … }
 */
export function tagsProblem(tags: unknown, target = 'tags'): Problem | undefined {
  if (tags === undefined || tags === null) return undefined
  if (typeof tags !== 'object' || Array.isArray(tags))
    return problem(
      target,
      'tags must be an object of tag names to string values.',
      'InvalidRequestContent',
    )
  const entries = Object.entries(tags as Record<string, unknown>)
  if (entries.length > TAG_LIMITS.count)
    return problem(
      target,
      `A resource can have at most ${TAG_LIMITS.count} tags; the request has ${entries.length}.`,
      'InvalidTag',
    )
  for (const [name, value] of entries) {
    const at = `${target}.${name.slice(0, 80)}`
    if (name.length === 0 || name.length > TAG_LIMITS.nameLength)
      return problem(
        at,
        `The tag name ${quoteName(name)} must be 1 to ${TAG_LIMITS.nameLength} characters long; it has ${name.length}.`,
        'InvalidTag',
      )
    if (RESERVED.test(name))
      return problem(
        at,
        `The tag name ${quoteName(name)} has reserved characters: tag names cannot contain '<', '>', '%', '&', '\\', '?', '/' or control characters.`,
        'InvalidTagNameCharacters',
      )
    if (typeof value !== 'string')
      return problem(
        at,
        `The value of tag ${quoteName(name)} must be a string.`,
        'InvalidRequestContent',
      )
    if (value.length > TAG_LIMITS.valueLength)
      return problem(
        at,
        `The value of tag ${quoteName(name)} must be at most ${TAG_LIMITS.valueLength} characters long; it has ${value.length}.`,
        'InvalidTag',
      )
  }
  return undefined
}
