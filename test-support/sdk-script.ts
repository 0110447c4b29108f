/**
 * Runs a script that drives `osroll serve --tls self-signed` through the unmodified Azure SDK in
 * a child process, trusting osroll's CA through NODE_EXTRA_CA_CERTS as a user would, and returns
 * the JSON object it prints last.
 */
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import type { ServeProcess } from './serve-process.js'

export function runSdkScript(
  server: ServeProcess,
  dataDir: string,
  script: string,
): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', script],
      {
        env: {
          ...process.env,
          NODE_EXTRA_CA_CERTS: join(dataDir, 'tls', 'ca.crt'),
          OSROLL_URL: server.url,
          OSROLL_TOKEN: server.token,
          OSROLL_SUBSCRIPTION: server.subscriptionId,
        },
        timeout: 90_000,
      },
      (err, out, errOut) => {
        if (err) return reject(new Error(`${err.message}\n${errOut}`))
        resolve(JSON.parse(out.trim().split('\n').pop() as string))
      },
    )
  })
}
