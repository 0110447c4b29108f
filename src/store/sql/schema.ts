/**
 * The relational schema shared by the SQLite and PostgreSQL stores (Kysely table types). Rows
 * keep structured documents as JSON text, with the columns queries filter or order by beside.
 */
import type { Generated } from 'kysely'

export interface Database {
  scale_sets: { key: string; state: string; revision: number }
  instance_records: { set_key: string; instance_id: string; record: string }
  rollouts: {
    id: string
    set_key: string
    started_at_ms: number
    status: string
    active_key: string | null
    revision: number
    document: string
  }
  rollout_events: { seq: Generated<number>; rollout_id: string; at_ms: number; event: string }
  sim_instances: { set_key: string; instance_id: string; instance: string }
  local_instances: { set_key: string; instance_id: string; instance: string }
  resources: {
    id: string
    type: string
    subscription_id: string
    resource_group: string | null
    name: string
    body: string
    etag: string
    created_at_ms: number
    updated_at_ms: number
  }
  operations: { id: string; document: string; updated_at_ms: number; ended_at_ms: number | null }
  tokens: {
    hash: string
    role: string
    subscriptions: string
    label: string
    created_at_ms: number
  }
  leases: { key: string; holder: string; epoch: number; expires_at_ms: number }
  replicas: { id: string; seen_at_ms: number }
  settings: { name: string; value: string }
  rollout_plans: { key: string; subscription_id: string; document: string; revision: number }
  rollout_plan_members: { set_key: string; plan_key: string }
  hosts: {
    key: string
    document: string
    status: string | null
    status_at_ms: number | null
    revision: number
  }
}
