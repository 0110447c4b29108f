/** `osroll image publish` (osroll's) and `osroll vm image list` (like az). */
import type { Command } from 'commander'
import { common, connect, run } from './context.js'
import type { Common } from './context.js'
import { print } from './output.js'
import { enumOption } from './args.js'

type ImageOpts = Common & { location: string; publisher: string; offer: string; sku: string }

export function registerImages(program: Command): void {
  const skuPath = (sub: string, o: ImageOpts) =>
    `/subscriptions/${sub}/providers/Microsoft.Compute/locations/${o.location}/publishers/${o.publisher}/artifacttypes/vmimage/offers/${o.offer}/skus/${o.sku}/versions`
  const imageFlags = (c: Command) =>
    common(c)
      .requiredOption('-l, --location <region>', 'region, e.g. westus')
      .requiredOption('--publisher <name>', 'publisher')
      .requiredOption('--offer <name>', 'offer')
      .requiredOption('--sku <name>', 'SKU')

  const image = program.command('image').description('publish platform images (osroll)')
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

  const vm = program.command('vm').description('virtual machine images (like az vm)')
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
