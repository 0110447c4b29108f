/**
 * The do-it-yourself baseline (issue 8): the same 50 local instances that osroll has just
 * rolled from 1.0.0 to 1.1.0 are upgraded to 1.2.0 by an Ansible playbook the way a self-hosted
 * user would write it — `serial: "20%"`, `max_fail_percentage: 20`, stop, new OS disk, boot,
 * `wait_for` the port, `uri` the health endpoint until it answers 200 — and the two wall times
 * are compared. Ansible gets every advantage: local connections, no fact gathering, and
 * `--forks` as large as a batch so a batch's hosts run together. Debian's ansible-core is
 * installed when `ansible-playbook` is missing. Printed, never asserted; `-- --json` ends with
 * one JSON line.
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Sqlite from 'better-sqlite3'
import type { LocalInstance } from '../src/fabrics/types/local-state.js'
import { sampleImage } from '../test-support/sample-images.js'
import { localFleet } from './local-fleet.js'

const json = process.argv.includes('--json')
const INSTANCES = Number(process.env['OSROLL_BENCH_INSTANCES'] ?? 50)
const BATCH = Math.max(1, Math.floor(INSTANCES * 0.2))

const PLAYBOOK = `- name: Upgrade every instance's OS disk, 20% at a time, gated on health
  hosts: all
  gather_facts: false
  serial: "20%"
  max_fail_percentage: 20
  tasks:
    - name: Stop the instance (SIGTERM to its process group) and wait until it is gone
      ansible.builtin.shell: >-
        kill -TERM -- -{{ pid }} 2>/dev/null || kill -TERM {{ pid }} 2>/dev/null;
        while [ -e /proc/{{ pid }} ] && [ "$(cut -d' ' -f3 /proc/{{ pid }}/stat 2>/dev/null)" != Z ];
        do sleep 0.05; done
    - name: Build a new OS disk from the image
      ansible.builtin.shell: >-
        rm -rf {{ instance_dir }}/disks/ansible &&
        cp -a {{ image_dir }} {{ instance_dir }}/disks/ansible
    - name: Boot it, detached
      ansible.builtin.shell: >-
        cd {{ instance_dir }}/disks/ansible &&
        setsid ./boot >> {{ instance_dir }}/logs/console.log 2>&1 < /dev/null &
        echo $! > {{ instance_dir }}/ansible.pid
      environment: "{{ boot_env }}"
    - name: Wait for its port
      ansible.builtin.wait_for:
        host: "{{ private_ip }}"
        port: 8080
        timeout: 60
    - name: Wait until it reports healthy
      ansible.builtin.uri:
        url: "http://{{ private_ip }}:8080/health"
        status_code: 200
      register: health
      until: health.status == 200
      retries: 60
      delay: 1
`

ensureAnsible()
const fleet = await localFleet(INSTANCES)
let result: { osrollMs: number; ansibleMs: number } | null = null
try {
  const { rollout } = await fleet.rollTo('1.1.0')
  const osrollMs = (rollout.endedAtMs as number) - rollout.startedAtMs
  // osroll stops; its instances keep running (SPEC §9.2) and are now the playbook's.
  await fleet.server.stop()
  const records = instanceRecords(join(fleet.dir, 'data', 'osroll.db'))
  const image = sampleVersion(fleet.dir, '1.2.0')
  const work = join(fleet.dir, 'ansible')
  mkdirSync(join(work, 'tmp'), { recursive: true })
  writeFileSync(join(work, 'inventory.json'), JSON.stringify(inventory(records, fleet.dir, image)))
  writeFileSync(join(work, 'upgrade.yml'), PLAYBOOK)
  const t0 = Date.now()
  const run = spawnSync(
    'ansible-playbook',
    ['-i', 'inventory.json', '--forks', String(BATCH), 'upgrade.yml'],
    {
      cwd: work,
      encoding: 'utf8',
      env: {
        ...process.env,
        ANSIBLE_NOCOLOR: '1',
        ANSIBLE_LOCAL_TEMP: join(work, 'tmp'),
        ANSIBLE_PYTHON_INTERPRETER: '/usr/bin/python3',
        ANSIBLE_RETRY_FILES_ENABLED: 'false',
      },
      maxBuffer: 64 * 1024 * 1024,
    },
  )
  const ansibleMs = Date.now() - t0
  if (run.status !== 0) throw new Error(`ansible-playbook failed:\n${run.stdout}\n${run.stderr}`)
  await checkServing(records, '1.2.0') // the baseline really did the work
  result = { osrollMs, ansibleMs }
} finally {
  stopInstances(fleet.dir, result === null)
  await fleet.close()
}
if (result === null) throw new Error('unreachable: the run either measured or threw')

const ratio = result.ansibleMs / result.osrollMs
const rows: [string, string, string][] = [
  [
    `${INSTANCES} local instances, 20% batches, health-gated: Ansible ÷ osroll wall time`,
    `${ratio.toFixed(1)} (${(result.ansibleMs / 1000).toFixed(1)} s ÷ ${(result.osrollMs / 1000).toFixed(2)} s)`,
    '≥ 5',
  ],
]
const width = Math.max(...rows.map((r) => r[0].length))
console.log(`${'benchmark'.padEnd(width)}  ${'measured'.padEnd(30)}  goal`)
for (const [n, v, g] of rows) console.log(`${n.padEnd(width)}  ${v.padEnd(30)}  ${g}`)
if (json)
  console.log(
    JSON.stringify({
      ansible_over_osroll_wall_ratio: Number(ratio.toFixed(2)),
      'ansible.wall_ms': result.ansibleMs,
      'ansible.osroll_wall_ms': result.osrollMs,
    }),
  )

function ensureAnsible(): void {
  if (spawnSync('ansible-playbook', ['--version']).status === 0) return
  console.error("ansible-playbook is missing: installing Debian's ansible-core…")
  const r = spawnSync('apt-get', ['install', '-y', '--no-install-recommends', 'ansible-core'], {
    stdio: 'inherit',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  })
  if (r.status !== 0)
    throw new Error(
      'could not install ansible-core (apt-get install -y ansible-core, as root); install it and run again',
    )
}

function instanceRecords(dbFile: string): LocalInstance[] {
  const db = new Sqlite(dbFile, { readonly: true })
  try {
    return (db.prepare('select instance from local_instances').all() as { instance: string }[])
      .map((r) => JSON.parse(r.instance) as LocalInstance)
      .sort((a, b) => Number(a.instanceId) - Number(b.instanceId))
  } finally {
    db.close()
  }
}

/** The image directory of a new version of the sample image (what Ansible copies). */
function sampleVersion(dir: string, version: string): string {
  return new URL(sampleImage(join(dir, 'images'), { version })).pathname
}

function instanceDir(dataDir: string, i: LocalInstance): string {
  // The local fabric's layout: {data-dir}/instances/<sha256(set key)[0:16]>/<id>.
  const set = createHash('sha256').update(i.scaleSetKey).digest('hex').slice(0, 16)
  return join(dataDir, 'data', 'instances', set, i.instanceId)
}

function inventory(records: LocalInstance[], dataDir: string, image: string): unknown {
  const hosts: Record<string, unknown> = {}
  for (const i of records) {
    const dir = instanceDir(dataDir, i)
    hosts[`instance${i.instanceId}`] = {
      ansible_connection: 'local',
      pid: i.process?.pid,
      instance_dir: dir,
      private_ip: i.privateIp,
      boot_env: {
        PATH: process.env['PATH'],
        OSROLL_INSTANCE_ID: i.instanceId,
        OSROLL_COMPUTER_NAME: i.computerName,
        OSROLL_PRIVATE_IP: i.privateIp,
        OSROLL_DATA_DISK_0: join(dir, 'data', 'lun0'),
      },
    }
  }
  return { all: { hosts, vars: { image_dir: image } } }
}

async function checkServing(records: LocalInstance[], version: string): Promise<void> {
  for (const i of records) {
    const res = await fetch(`http://${i.privateIp}:8080/health`)
    const body = (await res.json()) as { version?: string }
    if (body.version !== version)
      throw new Error(`instance ${i.instanceId} serves ${body.version}, not ${version}`)
  }
}

/** Ends what runs: the processes the playbook booted, and osroll's if the run failed. */
function stopInstances(dataDir: string, failed: boolean): void {
  for (const i of instanceRecordsSafe(join(dataDir, 'data', 'osroll.db'))) {
    const file = join(instanceDir(dataDir, i), 'ansible.pid')
    const pids = [
      failed ? i.process?.pid : 0,
      existsSync(file) ? Number(readFileSync(file, 'utf8')) : 0,
    ]
    for (const pid of pids)
      if (pid)
        try {
          process.kill(-pid, 'SIGKILL')
        } catch {
          /* gone */
        }
  }
}

function instanceRecordsSafe(dbFile: string): LocalInstance[] {
  try {
    return instanceRecords(dbFile)
  } catch {
    return []
  }
}
