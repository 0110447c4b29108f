/**
 * One instance's drawer (issue 22 §4): its version, health, status and extensions, its gates'
 * and hooks' answers and its row across rollouts (instance-history.tsx), and its console, a
 * tail that follows.
 */
import { useEffect, useRef, useState } from 'preact/hooks'
import type { Api } from './api.js'
import type { Vm } from './model.js'
import { InstanceHistory } from './instance-history.js'

export function InstanceDetails(p: {
  api: Api
  setId: string
  vm: Vm
  refresh: number
  onClose: () => void
}) {
  const [follow, setFollow] = useState(true)
  const log = useConsoleTail(p.api, `${p.setId}/virtualMachines/${p.vm.instanceId}`, follow)
  const logRef = useRef<HTMLPreElement>(null)
  useEffect(() => {
    if (follow && logRef.current) logRef.current.scrollTop = logRef.current.scrollHeight
  }, [log, follow])
  const iv = p.vm.properties.instanceView
  return (
    <aside class="details" aria-label={`Instance ${p.vm.instanceId}`} data-testid="details">
      <div class="titlebar">
        <h3>Instance {p.vm.instanceId}</h3>
        <button type="button" class="link" onClick={p.onClose}>
          Close
        </button>
      </div>
      <dl>
        <dt>Image version</dt>
        <dd class="mono">{p.vm.properties.storageProfile?.imageReference?.exactVersion ?? '?'}</dd>
        <dt>Health</dt>
        <dd>{iv?.vmHealth?.status?.code?.replace('HealthState/', '') ?? 'no health source'}</dd>
        <dt>Status</dt>
        <dd>{iv?.statuses?.map((s) => s.displayStatus ?? s.code).join(' · ')}</dd>
        <dt>Latest model</dt>
        <dd>{p.vm.properties.latestModelApplied ? 'yes' : 'no'}</dd>
        <dt>Extensions</dt>
        <dd>
          {iv?.extensions?.length
            ? iv.extensions.map((e) => (
                <div key={e.name}>
                  {e.name}: {e.statuses?.[0]?.displayStatus ?? '?'}
                  {e.statuses?.[0]?.message ? ` — ${e.statuses[0].message}` : ''}
                </div>
              ))
            : 'none'}
        </dd>
      </dl>
      <h4>Across rollouts</h4>
      <InstanceHistory
        api={p.api}
        setId={p.setId}
        instanceId={p.vm.instanceId}
        refresh={p.refresh}
      />
      <h4>Console</h4>
      <label class="small">
        <input
          type="checkbox"
          checked={follow}
          onChange={(e) => setFollow((e.target as HTMLInputElement).checked)}
          data-testid="console-follow"
        />{' '}
        Follow (re-read every {CONSOLE_EVERY_MS / 1000} s)
      </label>
      <pre class="log" ref={logRef} tabIndex={0} aria-label="Console tail" data-testid="console">
        {log ?? 'Loading…'}
      </pre>
    </aside>
  )
}

/** How often a followed console is re-read, and how many of its last lines are shown. */
const CONSOLE_EVERY_MS = 2000
const CONSOLE_LINES = 40

/**
 * The tail of an instance's console (`…/bootDiagnostics`, 64 KiB at most), re-read every
 * CONSOLE_EVERY_MS while `follow` is on: a tail that follows. A fabric without a console (sim)
 * answers an error once, shown, and is not asked again.
 */
function useConsoleTail(api: Api, vmPath: string, follow: boolean): string | null {
  const [log, setLog] = useState<string | null>(null)
  useEffect(() => {
    setLog(null)
  }, [vmPath])
  useEffect(() => {
    let stopped = false
    let timer: ReturnType<typeof setTimeout> | undefined
    const read = async () => {
      try {
        const r = await api.get<{ consoleLog: string }>(`${vmPath}/bootDiagnostics`)
        if (stopped) return
        setLog(r.consoleLog.trimEnd().split('\n').slice(-CONSOLE_LINES).join('\n') || '(empty)')
        if (follow) timer = setTimeout(() => void read(), CONSOLE_EVERY_MS)
      } catch (err) {
        if (!stopped) setLog(`(no console: ${(err as Error).message})`)
      }
    }
    void read()
    return () => {
      stopped = true
      clearTimeout(timer)
    }
  }, [vmPath, follow])
  return log
}
