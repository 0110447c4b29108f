/**
 * The dashboard's shell (SPEC §8, issue 7): the token (fragment or prompt), who it is (a Reader
 * sees no action buttons), and the two views — the fleet, and one scale set — chosen by `?set=`.
 */
import { useEffect, useState } from 'preact/hooks'
import { Api, ApiError, initialToken, saveToken } from './api.js'
import { FleetView } from './fleet.js'
import { ScaleSetView } from './scale-set.js'

type Who = { role: 'Reader' | 'Contributor' | 'Owner' | 'Operator'; label?: string }

export function App() {
  const [token, setToken] = useState<string | null>(() => initialToken())
  const [who, setWho] = useState<Who | null>(null)
  const [error, setError] = useState<string | null>(null)
  const [setId, setSetId] = useState<string | null>(() => selectedSet())

  useEffect(() => {
    const onPop = () => setSetId(selectedSet())
    addEventListener('popstate', onPop)
    return () => removeEventListener('popstate', onPop)
  }, [])

  useEffect(() => {
    if (!token) return
    new Api(token)
      .get<Who>('/whoami')
      .then((w) => {
        setWho(w)
        setError(null)
      })
      .catch((err: unknown) => {
        if (err instanceof ApiError && err.status === 401) {
          saveToken(null)
          setToken(null)
          setError('That token was not accepted.')
        } else setError(`Cannot reach osroll: ${(err as Error).message}`)
      })
  }, [token])

  const open = (id: string | null) => {
    history.pushState(null, '', id ? `/?set=${encodeURIComponent(id)}` : '/')
    setSetId(id)
  }

  if (!token) return <TokenPrompt error={error} onToken={(t) => (saveToken(t), setToken(t))} />
  const api = new Api(token)
  return (
    <div class="shell">
      <header class="top">
        <a
          href="/"
          class="brand"
          onClick={(e) => {
            e.preventDefault()
            open(null)
          }}
        >
          osroll
        </a>
        <span class="muted">automatic OS image upgrades</span>
        <span class="spacer" />
        {who && (
          <span class="who" data-testid="role">
            {who.label ? `${who.label} · ` : ''}
            {who.role}
          </span>
        )}
        <button
          type="button"
          class="link"
          onClick={() => {
            saveToken(null)
            setToken(null)
            setWho(null)
          }}
        >
          Sign out
        </button>
      </header>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      <main>
        {who &&
          (setId ? (
            <ScaleSetView
              api={api}
              id={setId}
              canAct={who.role !== 'Reader'}
              onBack={() => open(null)}
            />
          ) : (
            <FleetView api={api} canAct={who.role !== 'Reader'} onOpen={open} />
          ))}
      </main>
    </div>
  )
}

function selectedSet(): string | null {
  return new URLSearchParams(location.search).get('set')
}

function TokenPrompt(p: { error: string | null; onToken: (t: string) => void }) {
  const [value, setValue] = useState('')
  return (
    <main class="prompt">
      <h1>osroll</h1>
      <form
        onSubmit={(e) => {
          e.preventDefault()
          if (value.trim()) p.onToken(value.trim())
        }}
      >
        <label for="token">API token</label>
        <input
          id="token"
          type="password"
          autoComplete="off"
          value={value}
          onInput={(e) => setValue((e.target as HTMLInputElement).value)}
          aria-describedby="token-help"
        />
        <p id="token-help" class="muted">
          The admin token is in <code>{'{data-dir}'}/token</code>;{' '}
          <code>osroll token create --role Reader</code> makes a read-only one. It is kept for this
          browser tab only.
        </p>
        {p.error && (
          <p role="alert" class="error">
            {p.error}
          </p>
        )}
        <button type="submit">Open the dashboard</button>
      </form>
    </main>
  )
}
