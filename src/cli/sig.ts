/**
 * `osroll sig …`: Azure Compute Galleries like `az sig`: create a gallery, an image definition,
 * an image version (with target regions), and show a version (with replication status).
 */
import type { Command } from 'commander'
import { common, connect, run } from './context.js'
import type { Common } from './context.js'
import { print } from './output.js'
import { enumOption } from './args.js'

type GalleryOpts = Common & { resourceGroup: string; galleryName: string; location: string }

const galleryPath = (sub: string, o: GalleryOpts) =>
  `/subscriptions/${sub}/resourceGroups/${o.resourceGroup}/providers/Microsoft.Compute/galleries/${o.galleryName}`

const flags = (c: Command) =>
  common(c)
    .requiredOption('-g, --resource-group <name>', 'resource group')
    .requiredOption('-r, --gallery-name <name>', 'gallery')
    .option('-l, --location <region>', 'region', 'westus')

export function registerSig(program: Command): void {
  const sig = program
    .command('sig')
    .description('galleries, image definitions and versions (like az sig)')
  registerCreate(sig)
  registerImageDefinition(sig)
  const version = sig.command('image-version').description('image versions')
  registerVersionCreate(version)
  registerVersionShow(version)
}

/** Registers `sig create`: a gallery. */
function registerCreate(sig: Command): void {
  flags(sig.command('create').description('create a gallery'))
    .addHelpText('after', '\nExample:\n  osroll sig create -g rg -r gallery\n')
    .action((o: GalleryOpts) =>
      run(async () => {
        const { client, sub } = await connect(o)
        print(
          (await client.request('PUT', galleryPath(sub, o), { location: o.location })).body,
          o,
          ['name', 'location'],
        )
      }),
    )
}

/** Registers `sig image-definition create`. */
function registerImageDefinition(sig: Command): void {
  flags(
    sig
      .command('image-definition')
      .description('image definitions')
      .command('create')
      .description('create an image definition'),
  )
    .requiredOption('-i, --gallery-image-definition <name>', 'image definition')
    .requiredOption('--publisher <name>', 'identifier publisher')
    .requiredOption('--offer <name>', 'identifier offer')
    .requiredOption('--sku <name>', 'identifier sku')
    .addOption(enumOption('--os-type <type>', 'operating system', ['Linux', 'Windows'], 'Linux'))
    .addOption(
      enumOption('--os-state <state>', 'OS state', ['Generalized', 'Specialized'], 'Generalized'),
    )
    .addOption(
      enumOption('--hyper-v-generation <generation>', 'hypervisor generation', ['V1', 'V2'], 'V1'),
    )
    .addHelpText(
      'after',
      '\nExample:\n  osroll sig image-definition create -g rg -r gallery -i web --publisher me --offer web --sku 1\n',
    )
    .action(
      (
        o: GalleryOpts & {
          galleryImageDefinition: string
          publisher: string
          offer: string
          sku: string
          osType: string
          osState: string
          hyperVGeneration: string
        },
      ) =>
        run(async () => {
          const { client, sub } = await connect(o)
          const body = {
            location: o.location,
            properties: {
              osType: o.osType,
              osState: o.osState,
              hyperVGeneration: o.hyperVGeneration,
              identifier: { publisher: o.publisher, offer: o.offer, sku: o.sku },
            },
          }
          print(
            (
              await client.request(
                'PUT',
                `${galleryPath(sub, o)}/images/${o.galleryImageDefinition}`,
                body,
              )
            ).body,
            o,
            ['name', 'location', 'properties.osType'],
          )
        }),
    )
}

/** Registers `sig image-version create`: a version from an artifact, with its target regions. */
function registerVersionCreate(version: Command): void {
  flags(version.command('create').description('create an image version from an artifact'))
    .requiredOption('-i, --gallery-image-definition <name>', 'image definition')
    .requiredOption('-e, --gallery-image-version <x.y.z>', 'version')
    .requiredOption(
      '--source <uri>',
      'the artifact: file:///dir, a .tar.gz, or sim:?… on the sim fabric',
    )
    .option(
      '--target-regions <regions...>',
      'regions to replicate to (default: --location); region=exclude to exclude it from latest',
    )
    .option('--exclude-from-latest', 'never picked as latest')
    .addHelpText(
      'after',
      '\nExample:\n  osroll sig image-version create -g rg -r gallery -i web -e 1.2.0 --source file:///srv/web-1.2.0 --target-regions westus eastus\n',
    )
    .action(
      (
        o: GalleryOpts & {
          galleryImageDefinition: string
          galleryImageVersion: string
          source: string
          targetRegions?: string[]
          excludeFromLatest?: boolean
        },
      ) =>
        run(async () => {
          const { client, sub } = await connect(o)
          const targetRegions = (o.targetRegions ?? [o.location]).map((r) => {
            const [name, flag] = r.split('=')
            return { name, regionalReplicaCount: 1, excludeFromLatest: flag === 'exclude' }
          })
          const body = {
            location: o.location,
            properties: {
              publishingProfile: { targetRegions, excludeFromLatest: o.excludeFromLatest ?? false },
              storageProfile: { osDiskImage: { source: { uri: o.source } } },
            },
          }
          const path = `${galleryPath(sub, o)}/images/${o.galleryImageDefinition}/versions/${o.galleryImageVersion}`
          print((await client.request('PUT', path, body)).body, o, ['name', 'location'])
        }),
    )
}

/** Registers `sig image-version show`: a version and its replication. */
function registerVersionShow(version: Command): void {
  flags(version.command('show').description('show an image version and its replication'))
    .requiredOption('-i, --gallery-image-definition <name>', 'image definition')
    .requiredOption('-e, --gallery-image-version <x.y.z>', 'version')
    .addHelpText(
      'after',
      '\nExample:\n  osroll sig image-version show -g rg -r gallery -i web -e 1.2.0 --query properties.replicationStatus\n',
    )
    .action((o: GalleryOpts & { galleryImageDefinition: string; galleryImageVersion: string }) =>
      run(async () => {
        const { client, sub } = await connect(o)
        print(
          (
            await client.get(
              `${galleryPath(sub, o)}/images/${o.galleryImageDefinition}/versions/${o.galleryImageVersion}?$expand=ReplicationStatus`,
            )
          ).body,
          o,
          ['name', 'properties.replicationStatus.aggregatedState'],
        )
      }),
    )
}
