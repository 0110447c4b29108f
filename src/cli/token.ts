/**
 * `osroll token create`: issues an API token in the local data dir's store (shown once, stored
 * hashed), with a role and optionally limited to subscriptions (docs/api.md § Roles and scopes). An
 * Operator token is
 * above subscriptions (it publishes platform images) and so is never limited to any.
 */
import type { Command } from 'commander'
import { join, resolve } from 'node:path'
import { existsSync } from 'node:fs'
import { openSqliteStore } from '../store/sqlite/open-sqlite.js'
import { OPERATOR, createToken, ROLES } from '../services/tokens.js'
import type { Role } from '../services/tokens.js'
import { DEFAULTS } from '../config/defaults.js'

export function registerToken(program: Command): void {
  const token = program.command('token').description('manage API tokens')
  token
    .command('create')
    .description('issue a token; it is printed once and stored only as a hash')
    .requiredOption(
      '--role <role>',
      `one of ${ROLES.join(', ')} (Operator: above subscriptions, publishes platform images)`,
    )
    .option('--subscription <id...>', 'limit the token to these subscriptions (default: all)')
    .option('--label <text>', 'a note to recognise the token by', 'cli')
    .option(
      '--data-dir <dir>',
      'the server data dir (OSROLL_DATA_DIR)',
      process.env['OSROLL_DATA_DIR'] ?? DEFAULTS.dataDir,
    )
    .addHelpText('after', '\nExample:\n  osroll token create --role Reader --subscription 2f1c…\n')
    .action(
      async (o: { role: string; subscription?: string[]; label: string; dataDir: string }) => {
        if (!ROLES.includes(o.role as Role)) {
          console.error(
            `osroll token create: --role must be one of ${ROLES.join(', ')}, not '${o.role}'`,
          )
          process.exit(2)
        }
        if (o.role === OPERATOR && (o.subscription ?? []).length > 0) {
          console.error(
            'osroll token create: an Operator token is above subscriptions; drop --subscription, or issue an Owner token for those subscriptions',
          )
          process.exit(2)
        }
        const file = join(resolve(o.dataDir), 'osroll.db')
        if (!existsSync(file)) {
          console.error(
            `osroll token create: no osroll data in ${resolve(o.dataDir)}; start 'osroll serve' there first or pass --data-dir`,
          )
          process.exit(2)
        }
        const store = await openSqliteStore(file)
        try {
          console.log(
            await createToken(store, {
              role: o.role as Role,
              subscriptions: o.subscription ?? [],
              label: o.label,
              nowMs: Date.now(),
            }),
          )
        } finally {
          await store.close()
        }
      },
    )
}
