/**
 * The fleet view: every subscription's scale sets with capacity, image (and the latest version
 * published for it), automatic-upgrade state, health source and the running rollout's progress.
 * Refreshed live: any event re-reads the list (debounced).
 */
import { useEffect, useState } from 'preact/hooks'
import type { Api } from './api.js'
import { compareVersions, useLive } from './live.js'
import type { ArmSet, Latest } from './model.js'
import { healthSource, imageOf, progressText, subscriptionHeading } from './model.js'
import { FleetPictures } from './fleet-pictures.js'
import { RolloutPlans } from './waves.js'

type Row = { set: ArmSet; latest: Latest | null; newest: string | null }
type Sub = { subscriptionId: string; displayName: string; rows: Row[] }

export function FleetView(p: { api: Api; canAct: boolean; onOpen: (id: string) => void }) {
  const [subs, setSubs] = useState<Sub[] | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [refresh, setRefresh] = useState(0)
  const [sets, setSets] = useState<ArmSet[] | null>(null)
  const [subIds, setSubIds] = useState<string[]>([])
  const load = async () => {
    try {
      const list = await p.api.list<{ subscriptionId: string; displayName: string }>(
        '/subscriptions',
      )
      const perSub = await Promise.all(
        list.map((s) =>
          p.api.list<ArmSet>(
            `/subscriptions/${s.subscriptionId}/providers/Microsoft.Compute/virtualMachineScaleSets`,
          ),
        ),
      )
      // The pictures start from the sets, beside the rows' own reads.
      setSets(perSub.flat())
      setSubIds(list.map((s) => s.subscriptionId))
      setRefresh((n) => n + 1)
      const out: Sub[] = await Promise.all(
        list.map(async (s, i) => ({
          ...s,
          rows: await Promise.all(
            (perSub[i] ?? []).map(async (set) => ({
              set,
              latest: await latestOf(p.api, set.id),
              newest: await newestVersion(p.api, s.subscriptionId, set).catch(() => null),
            })),
          ),
        })),
      )
      setSubs(out)
      setError(null)
    } catch (err) {
      setError((err as Error).message)
    }
  }
  const live = useLive(p.api, '', load)
  useEffect(() => void load(), [])

  return (
    <section aria-labelledby="fleet-title">
      <div class="titlebar">
        <h1 id="fleet-title">Fleet</h1>
        <span class={live ? 'live on' : 'live'} data-testid="live">
          {live ? 'live' : 'reconnecting…'}
        </span>
      </div>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {subs === null && <p class="muted">Loading…</p>}
      {subs?.map((s) => (
        <div key={s.subscriptionId} class="sub">
          <SubscriptionTitle sub={s} />
          {s.rows.length === 0 ? (
            <p class="muted">No scale sets yet.</p>
          ) : (
            <table class="sets">
              <thead>
                <tr>
                  <th scope="col">Scale set</th>
                  <th scope="col">Capacity</th>
                  <th scope="col">Image</th>
                  <th scope="col">Latest published</th>
                  <th scope="col">Automatic OS upgrades</th>
                  <th scope="col">Health source</th>
                  <th scope="col">Last rollout</th>
                </tr>
              </thead>
              <tbody>
                {s.rows.map(({ set, latest, newest }) => (
                  <tr key={set.id} data-testid="set-row">
                    <td>
                      <a
                        href={`/?set=${encodeURIComponent(set.id)}`}
                        onClick={(e) => {
                          e.preventDefault()
                          p.onOpen(set.id)
                        }}
                      >
                        {set.name}
                      </a>
                      <div class="muted small">{resourceGroup(set.id)}</div>
                    </td>
                    <td>{set.sku?.capacity ?? 0}</td>
                    <td class="mono small">{imageOf(set)}</td>
                    <td class="mono">{newest ?? '—'}</td>
                    <td>
                      {set.properties.upgradePolicy?.automaticOSUpgradePolicy
                        ?.enableAutomaticOSUpgrade
                        ? 'on'
                        : 'off'}
                    </td>
                    <td>{healthSource(set)}</td>
                    <td data-testid="set-rollout">{latest ? progressText(latest) : '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      ))}
      {sets && <FleetPictures api={p.api} sets={sets} refresh={refresh} canAct={p.canAct} />}
      <RolloutPlans api={p.api} subs={subIds} refresh={refresh} canAct={p.canAct} />
    </section>
  )
}

function SubscriptionTitle(p: { sub: { subscriptionId: string; displayName: string } }) {
  const { title, id } = subscriptionHeading(p.sub)
  return (
    <h2 data-testid="subscription">
      {id === null ? <span class="mono">{title}</span> : title}
      {id !== null && <span class="muted mono"> {id}</span>}
    </h2>
  )
}

function resourceGroup(id: string): string {
  return /\/resourceGroups\/([^/]+)/i.exec(id)?.[1] ?? ''
}

/** The newest platform image version published for the set's image SKU in its location. */
async function newestVersion(api: Api, sub: string, set: ArmSet): Promise<string | null> {
  const ref = set.properties.virtualMachineProfile?.storageProfile?.imageReference
  if (!ref?.publisher || !ref.offer || !ref.sku) return null
  const versions = await api.get<{ name: string }[]>(
    `/subscriptions/${sub}/providers/Microsoft.Compute/locations/${set.location}/publishers/${ref.publisher}/artifacttypes/vmimage/offers/${ref.offer}/skus/${ref.sku}/versions`,
  )
  return (
    versions
      .map((v) => v.name)
      .sort(compareVersions)
      .pop() ?? null
  )
}

/** The latest rollout, asked only when the set has had one (a 404 shows as a console error). */
async function latestOf(api: Api, id: string): Promise<Latest | null> {
  const history = await api.get<{ value: unknown[] }>(`${id}/osUpgradeHistory`)
  if (history.value.length === 0) return null
  return api.get<Latest>(`${id}/rollingUpgrades/latest`).catch(() => null)
}
