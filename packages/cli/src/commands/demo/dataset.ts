/**
 * What `mosaic demo` puts in its two gateways: a small company on **work** (three people, two
 * teams, personal and team rows of every kind, one credential) and Alice's own rows on
 * **home**; the grant that lets home read Alice's tasks and notes on work — and not her
 * credentials. Fixed values, so every run shows the same rows.
 */
import type { CreateGrantRequest, SeedFile } from '@mosaic/federation-core';

/** Whose data home reads on work. */
export const DEMO_USER = 'alice';

/** The credential home asks for and is refused. */
export const DENIED_CREDENTIAL = 'cred-vpn';

export const WORK_SEED = {
  users: [
    { id: 'alice', name: 'Alice Martin' },
    { id: 'bob', name: 'Bob Okafor' },
    { id: 'carol', name: 'Carol Ng' },
  ],
  teams: [
    { id: 't-eng', name: 'Engineering' },
    { id: 't-ops', name: 'Operations' },
  ],
  memberships: [
    { teamId: 't-eng', userId: 'alice' },
    { teamId: 't-eng', userId: 'bob' },
    { teamId: 't-ops', userId: 'carol' },
  ],
  resources: {
    tasks: [
      { id: 'task-101', ownerUserId: 'alice', title: 'Prepare the Q3 roadmap review', body: 'Slides by Thursday; ask Bob for the latency numbers.' },
      { id: 'task-102', ownerUserId: 'alice', title: 'Expense report: Berlin trip' },
      { id: 'task-201', teamId: 't-eng', title: 'Fix the flaky login test', body: 'Fails one run in twenty on CI; suspect the clock.' },
      { id: 'task-202', teamId: 't-eng', title: 'Release 2.4 checklist' },
      { id: 'task-301', ownerUserId: 'bob', title: 'Swap on-call week with Carol' },
      { id: 'task-401', teamId: 't-ops', title: 'Renew the edge proxy certificates' },
    ],
    notes: [
      { id: 'note-11', ownerUserId: 'alice', title: '1:1 with Bob', body: 'Wants to lead the 2.5 release.' },
      { id: 'note-21', teamId: 't-eng', title: 'ADR 7: move the queue to Postgres' },
      { id: 'note-41', teamId: 't-ops', title: 'Runbook: failover drill' },
    ],
    memory: [
      { id: 'mem-11', ownerUserId: 'alice', title: 'Prefers meetings after 10:00' },
      { id: 'mem-21', teamId: 't-eng', title: 'Deploys freeze on Fridays' },
    ],
    credentials: [{ id: DENIED_CREDENTIAL, ownerUserId: 'alice', title: 'Office VPN', body: 'demo-only, not a real password' }],
  },
} satisfies SeedFile;

export const HOME_SEED = {
  users: [{ id: 'alice', name: 'Alice Martin' }],
  resources: {
    tasks: [
      { id: 'home-1', ownerUserId: 'alice', title: 'Book the dentist' },
      { id: 'home-2', ownerUserId: 'alice', title: 'Renew the car insurance' },
    ],
    notes: [{ id: 'home-n1', ownerUserId: 'alice', title: 'Gift ideas for Sam' }],
  },
} satisfies SeedFile;

/** Alice → home: tasks and notes, never credentials or API keys. */
export const DEMO_GRANT: CreateGrantRequest = {
  subjectUserId: DEMO_USER,
  peerName: 'home',
  scope: {
    resources: ['tasks', 'notes'],
    excluded_resources: ['credentials', 'api_keys'],
    filters: {},
    max_rows_per_query: 500,
    rate_limit_per_minute: 60,
  },
};

/** `6 tasks, 3 notes, 2 memory rows, 1 credential` — what a seed file holds, for the step line. */
export function seedSummary(seed: SeedFile): string {
  const words: Record<string, [string, string]> = {
    tasks: ['task', 'tasks'],
    notes: ['note', 'notes'],
    memory: ['memory row', 'memory rows'],
    credentials: ['credential', 'credentials'],
    api_keys: ['API key', 'API keys'],
  };
  const count = (n: number, [one, many]: [string, string]) => `${n} ${n === 1 ? one : many}`;
  const parts: string[] = [];
  if (seed.users?.length) parts.push(count(seed.users.length, ['user', 'users']));
  if (seed.teams?.length) parts.push(count(seed.teams.length, ['team', 'teams']));
  for (const [resource, rows] of Object.entries(seed.resources ?? {})) {
    if (rows !== undefined && rows.length > 0) parts.push(count(rows.length, words[resource] ?? [resource, resource]));
  }
  return parts.join(', ');
}
