/**
 * Fleet pictures (issue 22 §3): the versions × scale sets matrix, the version adoption over time
 * (uPlot, from the sets' rollout timelines and re-read on every event), and the quarantined
 * versions with their release. uPlot: a small (≈ 50 kB, no dependencies), well-kept time-series
 * library drawing on a canvas, updated in place with setData — no framework of its own. It is
 * loaded (its own chunk) only when the fleet view draws the chart.
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import type uPlot from 'uplot'
import 'uplot/dist/uPlot.min.css'
import type { Api } from './api.js'
import type { ArmSet } from './model.js'
import type { AdoptionPoint, RolloutMoves, SetVersions } from './fleet-model.js'
import { fleetAdoption, setAdoption, versionMatrix } from './fleet-model.js'
import { confirmDialog } from './plan.js'
import type { TimelineProps } from './timeline-model.js'

/** How many of each set's latest rollouts the adoption goes back through. */
const ADOPTION_ROLLOUTS = 5
const COLOURS = ['#64748b', '#1d4ed8', '#047857', '#7c3aed', '#b45309', '#be185d', '#0e7490']

type Quarantined = {
  setId: string
  setName: string
  version: string
  quarantinedAt: string | null
  reason: { code?: string; message?: string } | null
}
type Loaded = { sets: SetVersions[]; quarantined: Quarantined[] }
/** One set of `GET /subscriptions/{sub}/providers/Osroll.Upgrades/fleetVersions`. */
type FleetItem = {
  properties: {
    scaleSet: { id: string; name: string }
    versions: Record<string, number>
    quarantinedVersions: { properties: Omit<Quarantined, 'setId' | 'setName'> }[]
    instanceVersions?: Record<string, string>
  }
}

/** The subscription id of an ARM id. */
function subscriptionOf(id: string): string {
  return id.split('/')[2] ?? ''
}

export function FleetPictures(p: { api: Api; sets: ArmSet[]; refresh: number; canAct: boolean }) {
  const [data, setData] = useState<Loaded | null>(null)
  const [adoption, setAdoptionData] = useState<AdoptionPoint[][] | null>(null)
  const [notice, setNotice] = useState<string | null>(null)
  /**
   * The matrix and the quarantine first, from one fleet-wide read per subscription
   * (docs/api.md § Fleet versions); the adoption, which needs each instance's version and
   * reads timelines, after.
   */
  const load = async () => {
    const now = Date.now()
    // The fleet table's sets, in its order.
    const order = new Map(p.sets.map((s, i) => [s.id.toLowerCase(), i]))
    const subs = [...new Set(p.sets.map((s) => subscriptionOf(s.id)))]
    const read = async (expand: boolean) =>
      (
        await Promise.all(
          subs.map((sub) =>
            p.api.list<FleetItem>(
              `/subscriptions/${sub}/providers/Osroll.Upgrades/fleetVersions${expand ? '?$expand=instances' : ''}`,
            ),
          ),
        )
      )
        .flat()
        .filter((x) => order.has(x.properties.scaleSet.id.toLowerCase()))
        .sort(
          (a, b) =>
            (order.get(a.properties.scaleSet.id.toLowerCase()) ?? 0) -
            (order.get(b.properties.scaleSet.id.toLowerCase()) ?? 0),
        )
    const items = await read(false)
    setData({
      sets: items.map((x) => ({
        setId: x.properties.scaleSet.id,
        name: x.properties.scaleSet.name,
        versions: x.properties.versions,
      })),
      quarantined: items.flatMap((x) =>
        x.properties.quarantinedVersions.map((q) => ({
          ...q.properties,
          setId: x.properties.scaleSet.id,
          setName: x.properties.scaleSet.name,
        })),
      ),
    })
    const expanded = await read(true)
    const history = await Promise.all(
      expanded.map(async (x) => {
        const base = `${x.properties.scaleSet.id}/providers/Osroll.Upgrades`
        const rollouts = await p.api.list<{ name: string }>(`${base}/rollouts`)
        const timelines = await Promise.all(
          rollouts
            .slice(0, ADOPTION_ROLLOUTS)
            .map((r) =>
              p.api
                .get<{ properties: TimelineProps }>(`${base}/rollouts/${r.name}/timeline`)
                .then((t) => t.properties),
            ),
        )
        return setAdoption(x.properties.instanceVersions ?? {}, timelines.map(movesOf), now)
      }),
    )
    setAdoptionData(history)
  }
  useEffect(() => {
    load().catch(() => undefined)
  }, [p.refresh, p.sets.map((s) => s.id).join()])
  if (!data) return null

  const release = async (q: Quarantined) => {
    const ok = await confirmDialog(
      `Release ${q.version} on ${q.setName}? It may be rolled out automatically again and is used for new instances.`,
      'Yes, release',
    )
    if (!ok) return
    try {
      await p.api.request(
        'POST',
        `${q.setId}/providers/Osroll.Upgrades/quarantinedVersions/${q.version}/release`,
      )
      setNotice(`Released ${q.version} on ${q.setName}.`)
      await load()
    } catch (err) {
      setNotice(`Could not release: ${(err as Error).message}`)
    }
  }

  return (
    <div class="fleet-pictures">
      <h2>Versions × scale sets</h2>
      <VersionMatrix sets={data.sets} />
      <h2>Version adoption over time</h2>
      {adoption ? <Adoption perSet={adoption} /> : <p class="muted">Loading…</p>}
      <h2>Quarantined versions</h2>
      {notice && (
        <p role="status" class="notice">
          {notice}
        </p>
      )}
      {data.quarantined.length === 0 ? (
        <p class="muted" data-testid="quarantine-none">
          No version is quarantined.
        </p>
      ) : (
        <table class="sets" data-testid="quarantine">
          <thead>
            <tr>
              <th scope="col">Scale set</th>
              <th scope="col">Version</th>
              <th scope="col">Since</th>
              <th scope="col">Why</th>
              <th scope="col">
                <span class="sr-only">Action</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {data.quarantined.map((q) => (
              <tr key={`${q.setId}/${q.version}`} data-testid="quarantined">
                <td>{q.setName}</td>
                <td class="mono">⚠ {q.version}</td>
                <td>{q.quarantinedAt ? new Date(q.quarantinedAt).toLocaleString() : '—'}</td>
                <td>
                  {q.reason?.code ?? ''} {q.reason?.message ?? ''}
                </td>
                <td>
                  {p.canAct && (
                    <button type="button" onClick={() => void release(q)}>
                      Release {q.version}
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  )
}

function movesOf(t: TimelineProps): RolloutMoves {
  return {
    target: t.targetImageVersion ?? '?',
    startMs: Date.parse(t.runningStatus.startTime),
    moves: t.instances.flatMap((i) => {
      const s = i.steps.find((x) => x.step === 'succeeded')
      return s && i.state === 'Succeeded'
        ? [{ instanceId: i.instanceId, atMs: Date.parse(s.time) }]
        : []
    }),
  }
}

function VersionMatrix(p: { sets: SetVersions[] }) {
  const m = versionMatrix(p.sets)
  const pct = (share: number) => `${Math.round(share * 100)}%`
  return (
    <table class="sets matrix" data-testid="matrix">
      <thead>
        <tr>
          <th scope="col">Scale set</th>
          {m.versions.map((v) => (
            <th scope="col" key={v} class="mono">
              {v}
            </th>
          ))}
          <th scope="col">Instances</th>
        </tr>
      </thead>
      <tbody>
        {m.rows.map((r) => (
          <tr key={r.setId} data-testid="matrix-row" data-set={r.name}>
            <th scope="row">{r.name}</th>
            {r.cells.map((c, i) => (
              <td key={i} data-version={m.versions[i]} data-share={pct(c.share)}>
                <ShareCell n={c.n} share={c.share} />
              </td>
            ))}
            <td>{r.total}</td>
          </tr>
        ))}
      </tbody>
      <tfoot>
        <tr data-testid="matrix-fleet">
          <th scope="row">Fleet</th>
          {m.fleet.cells.map((c, i) => (
            <td key={i} data-version={m.versions[i]} data-share={pct(c.share)}>
              <ShareCell n={c.n} share={c.share} />
            </td>
          ))}
          <td>{m.fleet.total}</td>
        </tr>
      </tfoot>
    </table>
  )
}

/** A share as text and as a bar (the bar only repeats the text). */
function ShareCell(p: { n: number; share: number }) {
  return (
    <span class="share">
      <span class="share-bar" aria-hidden="true">
        <span style={{ width: `${p.share * 100}%` }} />
      </span>
      {p.n ? `${Math.round(p.share * 100)}% (${p.n})` : '—'}
    </span>
  )
}

let uPlotModule: Promise<typeof uPlot> | null = null
function loadUPlot(): Promise<typeof uPlot> {
  uPlotModule ??= import('uplot').then((m) => m.default)
  return uPlotModule
}

function Adoption(p: { perSet: AdoptionPoint[][] }) {
  const el = useRef<HTMLDivElement>(null)
  const plot = useRef<{ u: uPlot; key: string } | null>(null)
  const a = fleetAdoption(p.perSet)
  const key = a.versions.join()
  useEffect(() => {
    if (!el.current || a.times.length === 0) return
    const data: uPlot.AlignedData = [
      a.times.map((t) => t / 1000),
      ...a.versions.map((v) => (a.series[v] as number[]).map((s) => s * 100)),
    ]
    if (plot.current?.key === key) {
      plot.current.u.setData(data)
      return
    }
    let gone = false
    void loadUPlot().then((UPlot) => {
      if (gone || !el.current) return
      plot.current?.u.destroy()
      const u = new UPlot(
        {
          width: Math.min(900, el.current.clientWidth || 900),
          height: 220,
          scales: { y: { range: [0, 100] } },
          axes: [{}, { values: (_u, ticks) => ticks.map((t) => `${t}%`) }],
          series: [
            { label: 'time' },
            ...a.versions.map((v, i) => ({
              label: v,
              stroke: COLOURS[i % COLOURS.length],
              width: 2,
              dash: i % 2 ? [6, 3] : undefined,
              paths: UPlot.paths.stepped?.({ align: 1 }),
              value: (_u: uPlot, s: number | null) => (s === null ? '—' : `${s.toFixed(0)}%`),
            })),
          ],
        },
        data,
        el.current,
      )
      plot.current = { u, key }
    })
    return () => {
      gone = true
    }
  }, [key, a.times.join()])
  useEffect(() => () => plot.current?.u.destroy(), [])
  if (a.times.length === 0) return <p class="muted">No instance yet.</p>
  const last = a.times.length - 1
  return (
    <figure class="adoption" data-testid="adoption">
      <div
        ref={el}
        role="img"
        aria-label={`Share of the fleet's instances per version over time; now ${a.versions
          .map((v) => `${v} ${Math.round(((a.series[v] as number[])[last] ?? 0) * 100)}%`)
          .join(', ')}`}
      />
      <figcaption class="muted small">
        Rebuilt from each set's last {ADOPTION_ROLLOUTS} rollouts (when each instance was counted
        upgraded); lines are dashed alternately so that they differ by more than colour.
      </figcaption>
    </figure>
  )
}
