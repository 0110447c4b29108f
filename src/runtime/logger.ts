/**
 * The logging interface the runtime writes to: pino's, so `main.ts` passes a pino logger and
 * tests pass `silentLogger`. Keys are stable: `scaleSet`, `rollout`, `batch`, `instanceIds`, `reason`.
 */

export interface Logger {
  debug(obj: object, msg?: string): void
  info(obj: object, msg?: string): void
  warn(obj: object, msg?: string): void
  error(obj: object, msg?: string): void
}

export const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
}
