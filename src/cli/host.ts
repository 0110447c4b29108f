/**
 * `osroll host add|show|list|remove|check`: the hypervisor hosts registry (docs/api.md § Hosts,
 * docs/operations.md § Hypervisor hosts). Hosts are installation-wide and need an Operator
 * token. `add` reads the private key file here and sends its text; the server never shows it.
 * Talks to the server only through the client.
 */
import { readFileSync } from 'node:fs'
import { Option } from 'commander'
import type { Command } from 'commander'
import { CliError, connect, run } from './context.js'
import type { Common } from './context.js'
import { print } from './output.js'

type Named = Common & { name?: string }
type AddOpts = Named & {
  address?: string
  port?: string
  user?: string
  sshKeyFile?: string
  vms?: string
  memoryMib?: string
  zone?: string
  faultDomain?: string
  hostKeyFingerprint?: string
}

const HOSTS = '/providers/Osroll.Fabric/hosts'
const COLUMNS = [
  'name',
  'properties.kind',
  'properties.address',
  'properties.status.reachability',
  'properties.status.qemuVersion',
  'properties.hostKey.fingerprint',
]

export function registerHost(program: Command): void {
  const host = program
    .command('host')
    .description('the hypervisor hosts registry: machines osroll reaches over SSH (osroll only)')
  const named = (c: Command) => options(c).option('-n, --name <name>', 'host name')
  const path = (name?: string) => `${HOSTS}${name ? `/${encodeURIComponent(name)}` : ''}`

  named(host.command('add').description('register a host, pinning its SSH host key (one command)'))
    .option('--address <address>', 'IPv4 or IPv6 address or DNS name of the host')
    .option('--port <port>', 'SSH port (default 22)')
    .option('--user <user>', 'the SSH user osroll logs in as')
    .option('--ssh-key-file <path>', 'private key osroll logs in with (no passphrase)')
    .option('--vms <count>', 'capacity: how many VMs the host may run')
    .option('--memory-mib <mib>', 'capacity: memory for VMs, in MiB')
    .option('--zone <zone>', "label: the host's zone (e.g. 1)")
    .option('--fault-domain <n>', "label: the host's fault domain (0, 1, …)")
    .option(
      '--host-key-fingerprint <SHA256:…>',
      'the host key the host must offer (ssh-keygen -lf on the host); without it, the key it offers now is pinned',
    )
    .addHelpText(
      'after',
      '\nExample:\n  osroll host add -n hv1 --address 10.0.0.5 --user osroll --ssh-key-file ~/.ssh/osroll_hosts \\\n    --vms 8 --memory-mib 16384 --zone 1 --fault-domain 0\n',
    )
    .action((o: AddOpts) =>
      run(async () => {
        const name = nameOf(o)
        const body = { properties: addProperties(o) }
        const { client } = await hostClient(o)
        print((await client.request('PUT', path(name), body)).body, o)
      }),
    )

  named(host.command('show').description('a host: its pinned host key and last check'))
    .addHelpText('after', '\nExample:\n  osroll host show -n hv1\n')
    .action((o: Named) =>
      run(async () => {
        const { client } = await hostClient(o)
        print((await client.get(path(nameOf(o)))).body, o, COLUMNS)
      }),
    )

  options(host.command('list').description('every host: local first, then the registered ones'))
    .addHelpText('after', '\nExample:\n  osroll host list -o table\n')
    .action((o: Common) =>
      run(async () => {
        const { client } = await hostClient(o)
        print(await client.list(path()), o, COLUMNS)
      }),
    )

  named(host.command('check').description('check a host over SSH now and show what was found'))
    .addHelpText('after', '\nExample:\n  osroll host check -n hv1 -o table\n')
    .action((o: Named) =>
      run(async () => {
        const { client } = await hostClient(o)
        print((await client.request('POST', `${path(nameOf(o))}/check`)).body, o, COLUMNS)
      }),
    )

  named(host.command('remove').description('remove a host from the registry'))
    .addHelpText('after', '\nExample:\n  osroll host remove -n hv1\n')
    .action((o: Named) =>
      run(async () => {
        const { client } = await hostClient(o)
        await client.request('DELETE', path(nameOf(o)))
      }),
    )
}

/** The flags of every host command: those of `common` but `--subscription` (hosts have none). */
function options(c: Command): Command {
  return c
    .option(
      '--endpoint <url>',
      'osroll to talk to (OSROLL_ENDPOINT, default http://127.0.0.1:7280)',
    )
    .addOption(
      new Option('-o, --output <format>', 'output format (osroll has no YAML output)')
        .choices(['json', 'jsonc', 'table', 'tsv', 'none'])
        .default('json'),
    )
    .option('--query <jmespath>', 'JMESPath query applied to the result, e.g. "[].name"')
}

/** Hosts are outside subscriptions: naming one skips looking one up. */
function hostClient(o: Common): ReturnType<typeof connect> {
  return connect({ ...o, subscription: 'none' })
}

function addProperties(o: AddOpts): Record<string, unknown> {
  const missing = [
    ['--address', o.address],
    ['--user', o.user],
    ['--ssh-key-file', o.sshKeyFile],
    ['--vms', o.vms],
    ['--memory-mib', o.memoryMib],
  ].filter(([, v]) => v === undefined)
  if (missing.length > 0)
    throw new CliError(
      `the following arguments are required: ${missing.map(([f]) => f).join(', ')}`,
    )
  const labels = {
    ...(o.zone !== undefined ? { zone: o.zone } : {}),
    ...(o.faultDomain !== undefined ? { faultDomain: int(o.faultDomain, '--fault-domain') } : {}),
  }
  return {
    address: o.address,
    ...(o.port !== undefined ? { port: int(o.port, '--port') } : {}),
    user: o.user,
    privateKey: keyOf(o.sshKeyFile as string),
    capacity: {
      vms: int(o.vms as string, '--vms'),
      memoryMiB: int(o.memoryMib as string, '--memory-mib'),
    },
    ...(Object.keys(labels).length > 0 ? { labels } : {}),
    ...(o.hostKeyFingerprint !== undefined ? { hostKeyFingerprint: o.hostKeyFingerprint } : {}),
  }
}

function keyOf(file: string): string {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new CliError(`--ssh-key-file ${file} cannot be read: ${(err as Error).message}`)
  }
  if (/^ssh-|^ecdsa-/.test(text.trim()))
    throw new CliError(
      `--ssh-key-file ${file} holds a public key: give the private key (the file without .pub).`,
    )
  return text
}

function int(v: string, flag: string): number {
  if (!/^-?\d+$/.test(v)) throw new CliError(`${flag} '${v}' is not a whole number.`)
  return Number(v)
}

function nameOf(o: Named): string {
  if (!o.name) throw new CliError('the following arguments are required: -n/--name')
  return o.name
}
