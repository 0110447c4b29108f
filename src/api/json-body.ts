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
import { Errors } from '../errors.js'
import type { AppError } from '../errors.js'

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
        done(Errors.InvalidRequestContent(why), undefined)
        return
      }
      // Azure accepts a POST action (osRollingUpgrade, rollingUpgrades/cancel, …) with a JSON
      // content type and no body at all.
      if (req.method === 'POST' && text.trim() === '') {
        done(null, undefined)
        return
      }
      parse(req, text, (err, value) => {
        // a refused __proto__ member is valid JSON: that error stays Fastify's
        if (err && text.trim() !== '' && jsonSyntaxPosition(text))
          done(invalidJsonError(text), undefined)
        else done(err, value)
      })
    },
  )
}

/**
 * Where parsing `text` as JSON stops, or undefined when it is valid JSON: the character offset
 * and its 1-based line and column. Called only after {@link jsonLimitProblem} (nesting is at
 * most 64 deep, so the recursion is bounded).
 * @example jsonSyntaxPosition('{"a": }') → { position: 6, line: 1, column: 7 }
 */
export function jsonSyntaxPosition(
  text: string,
): { position: number; line: number; column: number } | undefined {
  const scan = new JsonScanner(text)
  try {
    scan.value()
    scan.ws()
    if (scan.i === text.length) return undefined
  } catch {
    // scan.i is where parsing stopped
  }
  const i = scan.i
  const before = text.slice(0, i)
  const line = before.split('\n').length
  return { position: i, line, column: i - (before.lastIndexOf('\n') + 1) + 1 }
}

/** A JSON grammar walk that only moves `i`, throwing where the text stops being JSON. */
class JsonScanner {
  i = 0
  constructor(private readonly text: string) {}

  ws(): void {
    while (this.i < this.text.length && ' \t\n\r'.includes(this.text[this.i]!)) this.i++
  }

  private fail(): never {
    throw new Error('stop')
  }

  private lit(word: string): void {
    if (this.text.startsWith(word, this.i)) this.i += word.length
    else this.fail()
  }

  private str(): void {
    const text = this.text
    if (text[this.i] !== '"') this.fail()
    for (this.i++; this.i < text.length; this.i++) {
      const c = text.charCodeAt(this.i)
      if (c === QUOTE) {
        this.i++
        return
      }
      if (c < 0x20) this.fail()
      if (c === BACKSLASH) this.escape()
    }
    this.fail()
  }

  /** At a backslash: steps over a valid escape's rest, or stops just after the backslash. */
  private escape(): void {
    const text = this.text
    const e = text[this.i + 1]
    if (e === 'u') {
      if (!/^[0-9a-fA-F]{4}$/.test(text.slice(this.i + 2, this.i + 6))) {
        this.i++
        this.fail()
      }
      this.i += 5
    } else if (e !== undefined && '"\\/bfnrt'.includes(e)) this.i++
    else {
      this.i++
      this.fail()
    }
  }

  private num(): void {
    const m = /^-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/.exec(this.text.slice(this.i, this.i + 400))
    if (!m || m[0] === '-' || m[0].length === 0) this.fail()
    this.i += m![0].length
  }

  value(): void {
    this.ws()
    const c = this.text[this.i]
    if (c === '{') this.object()
    else if (c === '[') this.array()
    else if (c === '"') this.str()
    else if (c === 't') this.lit('true')
    else if (c === 'f') this.lit('false')
    else if (c === 'n') this.lit('null')
    else if (c === '-' || (c !== undefined && c >= '0' && c <= '9')) this.num()
    else this.fail()
  }

  private object(): void {
    this.i++
    this.ws()
    if (this.text[this.i] === '}') {
      this.i++
      return
    }
    for (;;) {
      this.ws()
      this.str()
      this.ws()
      if (this.text[this.i] !== ':') this.fail()
      this.i++
      this.value()
      this.ws()
      if (this.text[this.i] === ',') this.i++
      else if (this.text[this.i] === '}') {
        this.i++
        return
      } else this.fail()
    }
  }

  private array(): void {
    this.i++
    this.ws()
    if (this.text[this.i] === ']') {
      this.i++
      return
    }
    for (;;) {
      this.value()
      this.ws()
      if (this.text[this.i] === ',') this.i++
      else if (this.text[this.i] === ']') {
        this.i++
        return
      } else this.fail()
    }
  }
}

/** The 400 `InvalidRequestContent` for a body that is not JSON, naming where parsing stopped. */
export function invalidJsonError(text: string, detail?: string): AppError {
  const at = jsonSyntaxPosition(text)
  const where = at
    ? `parsing stopped at character ${at.position} (line ${at.line}, column ${at.column})`
    : (detail ?? 'it could not be parsed')
  return Errors.InvalidRequestContent(
    `The request content was invalid and could not be deserialized: ${where}.`,
  )
}
