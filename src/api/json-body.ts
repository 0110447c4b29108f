/**
 * JSON request bodies with limits (issue 15): before any recursive code (JSON.parse, the merge,
 * validation, the store, the serializer) sees a body, one linear scan of its text checks how
 * deep arrays and objects nest and how long each string is. A body past a limit is refused with
 * 400 `InvalidRequestContent` naming the limit; then Fastify's own parser (which refuses
 * `__proto__` and `constructor.prototype` members) parses it.
 *
 * Limits: 64 levels of nesting (the deepest Azure scale set body, a NIC's IP configuration's
 * backend pool reference, is 12; extension settings are the only free-form part) and 256 KiB of
 * characters per string (customData is at most 64 KiB decoded, about 87,400 base64 characters).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { AppError } from '../errors.js'

export const JSON_LIMITS = { maxDepth: 64, maxStringLength: 256 * 1024 } as const

const QUOTE = 0x22
const BACKSLASH = 0x5c

/**
 * Why `text` is past a limit, or undefined. Linear in the length, constant memory, no
 * recursion; it does not check that the text is JSON (the parser does).
 * @example jsonLimitProblem('[[[1]]]', { maxDepth: 2, maxStringLength: 10 }) → 'The request body nests…'
 */
export function jsonLimitProblem(
  text: string,
  limits: { maxDepth: number; maxStringLength: number } = JSON_LIMITS,
): string | undefined {
  let depth = 0
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c === QUOTE) {
      const start = i
      for (i++; i < text.length; i++) {
        const d = text.charCodeAt(i)
        if (d === BACKSLASH) i++
        else if (d === QUOTE) break
      }
      if (i - start - 1 > limits.maxStringLength)
        return `A string in the request body (at character ${start}) is longer than ${limits.maxStringLength} characters, the most osroll accepts.`
    } else if (c === 0x5b || c === 0x7b) {
      if (++depth > limits.maxDepth)
        return `The request body nests arrays and objects deeper than ${limits.maxDepth} levels (at character ${i}), the most osroll accepts.`
    } else if (c === 0x5d || c === 0x7d) {
      depth--
    }
  }
  return undefined
}

/**
 * Replaces Fastify's `application/json` parser with the limited one (same parse, same
 * poisoning protection: `__proto__` and `constructor.prototype` members are refused).
 */
export function registerLimitedJsonParser(app: FastifyInstance): void {
  const parse = app.getDefaultJsonParser('error', 'error')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser(
    'application/json',
    { parseAs: 'string' },
    (req: FastifyRequest, body: string | Buffer, done) => {
      const text = typeof body === 'string' ? body : body.toString('utf8')
      const why = jsonLimitProblem(text)
      if (why) {
        done(new AppError('InvalidRequestContent', 400, false, why), undefined)
        return
      }
      parse(req, text, done)
    },
  )
}
