/**
 * `osroll image publish` and `osroll image sample` (osroll's), and `osroll vm image list` (like
 * az).
 */
import type { Command } from 'commander'
import { common, connect, run } from './context.js'
import type { Common } from './context.js'
import { cpSync, existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { buildSampleImage, manifestDigests } from '../fabrics/qemu/sample-image.js'
import { print } from './output.js'
import { CliError } from './context.js'
import { enumOption } from './args.js'

const LOCAL_SAMPLE = fileURLToPath(new URL('../../examples/images/web', import.meta.url))

type ImageOpts = Common & { location: string; publisher: string; offer: string; sku: string }

const skuPath = (sub: string, o: ImageOpts) =>
  `/subscriptions/${sub}/providers/Microsoft.Compute/locations/${o.location}/publishers/${o.publisher}/artifacttypes/vmimage/offers/${o.offer}/skus/${o.sku}/versions`

const imageFlags = (c: Command) =>
  common(c)
    .requiredOption('-l, --location <region>', 'region, e.g. westus')
    .requiredOption('--publisher <name>', 'publisher')
    .requiredOption('--offer <name>', 'offer')
    .requiredOption('--sku <name>', 'SKU')

export function registerImages(program: Command): void {
  const image = program.command('image').description('publish platform images (osroll)')
  registerPublish(image)
  registerSample(image)
  const vm = program.command('vm').description('virtual machine images (like az vm)')
  registerVmImageList(vm)
}

/** Registers `image publish`: a platform image version from an artifact. */
function registerPublish(image: Command): void {
  imageFlags(image.command('publish').description('publish an image version from an artifact'))
    .requiredOption('--version <x.y.z>', 'the version, e.g. 1.2.0')
    .requiredOption(
      '--source <uri>',
      'file:///dir, file:///image.tar.gz, or sim:?boot=2 on the sim fabric',
    )
    .addOption(enumOption('--os <type>', 'operating system', ['Linux', 'Windows'], 'Linux'))
    .addHelpText(
      'after',
      '\nExample:\n  osroll image publish -l westus --publisher Canonical --offer UbuntuServer --sku 18.04-LTS --version 1.1.0 --source file:///srv/images/web-1.1.0\n',
    )
    .action((o: ImageOpts & { version: string; source: string; os: string }) =>
      run(async () => {
        const { client, sub } = await connect(o)
        const body = {
          location: o.location,
          properties: { source: { uri: o.source }, osDiskImage: { operatingSystem: o.os } },
        }
        print((await client.request('PUT', `${skuPath(sub, o)}/${o.version}`, body)).body, o, [
          'name',
          'location',
          'properties.source.uri',
        ])
      }),
    )
}

/** Registers `image sample`: a sample image version built here, to publish. */
function registerSample(image: Command): void {
  image
    .command('sample')
    .description('build a sample image version to publish (examples/images)')
    .addOption(
      enumOption('--fabric <fabric>', 'the fabric it is for', [
        'local',
        'qemu',
      ]).makeOptionMandatory(),
    )
    .requiredOption('--version <x.y.z>', 'the version the image reports')
    .addOption(
      enumOption('--health <health>', 'its health answer', ['healthy', 'unhealthy'], 'healthy'),
    )
    .requiredOption('--out <dir>', 'where to write it (must not exist, or be empty)')
    .option('--port <port>', 'the port it serves / and /health on', '8080')
    .option(
      '--cache-dir <dir>',
      'qemu: where the downloaded Debian cloud kernel is kept between builds (default ~/.cache/osroll)',
    )
    .addHelpText(
      'after',
      '\nExamples:\n  osroll image sample --fabric qemu --version 1.1.0 --out /tmp/vm-1.1.0\n  osroll image publish -l westus --publisher Canonical --offer UbuntuServer --sku 18.04-LTS --version 1.1.0 --source file:///tmp/vm-1.1.0\n',
    )
    .action((o: SampleOpts) => run(() => sample(o)))
}

type SampleOpts = {
  fabric: 'local' | 'qemu'
  version: string
  health: 'healthy' | 'unhealthy'
  out: string
  port: string
  cacheDir?: string
}

/** Writes the sample image of `--fabric` to `--out` and prints its file:// URL. */
async function sample(o: SampleOpts): Promise<void> {
  const port = Number(o.port)
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new CliError(`--port must be a port number from 1 to 65535, not '${o.port}'`)
  const out = resolve(o.out)
  if (existsSync(out) && readdirSync(out).length > 0)
    throw new CliError(`--out '${o.out}' is not empty; choose a new directory`)
  if (o.fabric === 'local') {
    cpSync(LOCAL_SAMPLE, out, { recursive: true })
    writeFileSync(
      join(out, 'image.json'),
      `${JSON.stringify({ version: o.version, health: o.health, port })}\n`,
    )
  } else {
    const cacheDir = resolve(o.cacheDir ?? join(homedir(), '.cache', 'osroll'))
    try {
      await buildSampleImage({
        version: o.version,
        health: o.health,
        port,
        outDir: out,
        cacheDir,
        onProgress: (step) => console.error(`sample: ${step}`),
      })
    } catch (err) {
      rmSync(out, { recursive: true, force: true })
      throw err
    }
    for (const [file, digest] of Object.entries(await manifestDigests(out)))
      console.error(`  ${file}  ${digest}`)
  }
  console.log(pathToFileURL(out).href)
}

/** Registers `vm image list`: the versions of a platform image. */
function registerVmImageList(vm: Command): void {
  imageFlags(vm.command('image').command('list').description('list the versions of an image SKU'))
    .option('--all', 'accepted for az compatibility: osroll always lists every version')
    .addHelpText(
      'after',
      '\nExample:\n  osroll vm image list -l westus --publisher Canonical --offer UbuntuServer --sku 18.04-LTS -o table\n',
    )
    .action((o: ImageOpts) =>
      run(async () => {
        const { client, sub } = await connect(o)
        const versions = (await client.get(skuPath(sub, o))).body as { name: string }[]
        const rows = versions.map((v) => ({
          offer: o.offer,
          publisher: o.publisher,
          sku: o.sku,
          urn: `${o.publisher}:${o.offer}:${o.sku}:${v.name}`,
          version: v.name,
        }))
        print(rows, o)
      }),
    )
}
