/**
 * Printing results like `az`: `--query` (JMESPath) first, then `--output json` (default; `jsonc`
 * is the same, without colour), `table` (columns from the rows' scalar fields, or the command's
 * preferred columns), `tsv`, or `none` (nothing: the exit code says how it went).
 */
import jmespath from 'jmespath'
import Table from 'cli-table3'
import { CliError } from './context.js'

export function print(
  value: unknown,
  o: { output?: string; query?: string },
  columns?: readonly string[],
): void {
  let v = value
  if (o.query) {
    try {
      v = jmespath.search(v as never, o.query)
    } catch (err) {
      throw new CliError(`--query '${o.query}' is not valid JMESPath: ${(err as Error).message}`)
    }
  }
  const format = o.output ?? 'json'
  if (format === 'none') return
  if (format === 'json' || format === 'jsonc') return void console.log(JSON.stringify(v, null, 2))
  const rows = Array.isArray(v) ? v : [v]
  if (format === 'tsv') {
    for (const row of rows)
      console.log(
        scalars(row, o.query ? undefined : columns)
          .map(([, x]) => x)
          .join('\t'),
      )
    return
  }
  if (format === 'table') {
    const cols = [
      ...new Set(rows.flatMap((r) => scalars(r, o.query ? undefined : columns).map(([k]) => k))),
    ]
    const table = new Table({ head: cols.map(title), style: { head: [], border: [] } })
    for (const row of rows) {
      const values = new Map(scalars(row, o.query ? undefined : columns))
      table.push(cols.map((c) => values.get(c) ?? ''))
    }
    console.log(table.toString())
    return
  }
  throw new CliError(`--output '${format}' is not one of json, jsonc, table, tsv, none.`)
}

/** The row's scalar cells: the named columns (dotted paths) or its own scalar members. */
function scalars(row: unknown, columns?: readonly string[]): [string, string][] {
  if (row === null || typeof row !== 'object') return [['Result', String(row)]]
  if (columns)
    return columns.map((c) => [
      c.split('.').pop() as string,
      text(
        c
          .split('.')
          .reduce<unknown>(
            (x, k) => (x && typeof x === 'object' ? (x as Record<string, unknown>)[k] : undefined),
            row,
          ),
      ),
    ])
  return Object.entries(row as Record<string, unknown>)
    .filter(([, x]) => x === null || typeof x !== 'object')
    .map(([k, x]) => [k, text(x)])
}

function text(x: unknown): string {
  return x === undefined || x === null ? '' : typeof x === 'object' ? JSON.stringify(x) : String(x)
}

function title(key: string): string {
  return key.charAt(0).toUpperCase() + key.slice(1)
}
