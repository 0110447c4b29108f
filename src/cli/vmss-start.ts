/**
 * Which start `osroll vmss rolling-upgrade start` asks for: Azure's `osRollingUpgrade` as az
 * sends it, or, with `--rollback` or `--version`, osroll's own `rollouts/start` action with the
 * body it takes (docs/rollouts.md § Rollback on every path).
 */

export type StartOpts = { rollback?: boolean; version?: string }

/**
 * @example startRequest('/subscriptions/s/…/virtualMachineScaleSets/web', { rollback: true }) →
 *   { path: '…/web/providers/Osroll.Upgrades/rollouts/start', body: { rollback: true } }
 */
export function startRequest(
  setPath: string,
  o: StartOpts,
): { path: string; body: Record<string, unknown> | undefined } {
  if (o.rollback === undefined && o.version === undefined)
    return { path: `${setPath}/osRollingUpgrade`, body: undefined }
  return {
    path: `${setPath}/providers/Osroll.Upgrades/rollouts/start`,
    body: {
      ...(o.version !== undefined ? { version: o.version } : {}),
      ...(o.rollback !== undefined ? { rollback: o.rollback } : {}),
    },
  }
}
