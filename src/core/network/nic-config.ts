/**
 * The subnets a scale set model names, as Azure's model does
 * (`virtualMachineProfile.networkProfile.networkInterfaceConfigurations[].properties
 * .ipConfigurations[].properties.subnet.id`; docs/api.md § Virtual networks and subnets), and the
 * one IP configuration that gets the instance's address: the primary configuration of the
 * primary network interface (the first of each when none says `primary`).
 */
import { isPlainObject } from '../scale-set/shape.js'

export type SubnetReference = Readonly<{
  nic: string
  ipConfig: string
  subnetId: string
  /** Where the reference is in the body, for the error that names it. */
  target: string
}>

const P_NICS = 'properties.virtualMachineProfile.networkProfile.networkInterfaceConfigurations'

/**
 * Every subnet reference of the model, in order (the primary one first).
 * @example subnetReferences({ networkInterfaceConfigurations: [{ name: 'nic', properties: {
 *   primary: true, ipConfigurations: [{ name: 'ip', properties: { subnet: { id } } }] } }] })
 *   → [{ nic: 'nic', ipConfig: 'ip', subnetId: id, target: '…ipConfigurations[0]…subnet.id' }]
 */
export function subnetReferences(networkProfile: unknown): SubnetReference[] {
  const nics = isPlainObject(networkProfile)
    ? networkProfile['networkInterfaceConfigurations']
    : undefined
  if (!Array.isArray(nics)) return []
  const out: (SubnetReference & { rank: number })[] = []
  nics.forEach((nic: unknown, i) => {
    if (!isPlainObject(nic)) return
    const props = isPlainObject(nic['properties']) ? nic['properties'] : {}
    const ips = Array.isArray(props['ipConfigurations']) ? props['ipConfigurations'] : []
    ips.forEach((ip: unknown, j) => {
      if (!isPlainObject(ip)) return
      const ipProps = isPlainObject(ip['properties']) ? ip['properties'] : {}
      const subnet = ipProps['subnet']
      const id = isPlainObject(subnet) ? subnet['id'] : undefined
      if (typeof id !== 'string') return
      out.push({
        nic: String(nic['name'] ?? `nic${i}`),
        ipConfig: String(ip['name'] ?? `ipconfig${j}`),
        subnetId: id,
        target: `${P_NICS}[${i}].properties.ipConfigurations[${j}].properties.subnet.id`,
        // Primary NIC first, then its primary IP configuration, then body order.
        rank: (props['primary'] === true ? 0 : 2) + (ipProps['primary'] === true ? 0 : 1),
      })
    })
  })
  return out
    .map((r, order) => ({ r, order }))
    .sort((a, b) => a.r.rank - b.r.rank || a.order - b.order)
    .map(({ r: { rank: _rank, ...ref } }) => ref)
}
