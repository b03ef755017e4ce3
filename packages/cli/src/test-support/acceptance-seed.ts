/**
 * Work's data in the acceptance suite (`mosaic gateway seed -`): four users, three teams, rows
 * of every resource. What each user may read natively is spelled out below, so each test
 * can say exactly which rows a peer must and must not see.
 */
export const WORK_SEED = {
  users: [
    { id: 'alice', name: 'Alice' },
    { id: 'bob', name: 'Bob' },
    { id: 'carol', name: 'Carol' },
    { id: 'dan', name: 'Dan' },
  ],
  teams: [
    { id: 'T1', name: 'Engineering' },
    { id: 'T2', name: 'Operations' },
    { id: 'T3', name: 'Sales' },
  ],
  memberships: [
    { teamId: 'T1', userId: 'alice' },
    { teamId: 'T1', userId: 'bob' },
    { teamId: 'T2', userId: 'alice' },
    { teamId: 'T3', userId: 'carol' },
  ],
  resources: {
    tasks: [
      { id: 'a-p1', ownerUserId: 'alice', title: 'Ship the release notes', body: 'draft in the wiki' },
      { id: 'a-p2', ownerUserId: 'alice', title: 'Book the dentist' },
      { id: 'b-p1', ownerUserId: 'bob', title: "Bob's private review" },
      { id: 'c-p1', ownerUserId: 'carol', title: "Carol's quarterly plan" },
      { id: 'd-p1', ownerUserId: 'dan', title: "Dan's onboarding" },
      { id: 't1-1', teamId: 'T1', title: 'Engineering roadmap: ship v2' },
      { id: 't2-1', teamId: 'T2', title: 'Operations rota for the ship week' },
      { id: 't3-1', teamId: 'T3', title: 'Sales pipeline review' },
    ],
    notes: [
      { id: 'n-a1', ownerUserId: 'alice', title: 'Ship checklist' },
      { id: 'n-b1', ownerUserId: 'bob', title: "Bob's notes" },
      { id: 'n-t1', teamId: 'T1', title: 'Engineering wiki' },
    ],
    memory: [{ id: 'm-a1', ownerUserId: 'alice', title: 'prefers morning meetings' }],
    credentials: [{ id: 'cred-a1', ownerUserId: 'alice', title: 'ship deploy password', body: 'hunter2' }],
    api_keys: [{ id: 'k-a1', ownerUserId: 'alice', title: 'ship api key', body: 'sk-live-0000' }],
  },
};

/** Task ids each user sees natively on work (personal rows and their teams' rows). */
export const WORK_TASKS_OF: Record<string, string[]> = {
  alice: ['a-p1', 'a-p2', 't1-1', 't2-1'],
  bob: ['b-p1', 't1-1'],
  carol: ['c-p1', 't3-1'],
  dan: ['d-p1'],
};

/** Every task id on work. */
export const ALL_WORK_TASKS = WORK_SEED.resources.tasks.map((t) => t.id).sort();

/** Home's own data: the same people, their own rows at home. */
export const HOME_SEED = {
  users: [
    { id: 'alice', name: 'Alice' },
    { id: 'bob', name: 'Bob' },
    { id: 'dan', name: 'Dan' },
  ],
  resources: {
    tasks: [
      { id: 'h-a1', ownerUserId: 'alice', title: 'Home: water the plants' },
      { id: 'h-b1', ownerUserId: 'bob', title: 'Home: fix the bike' },
      { id: 'h-d1', ownerUserId: 'dan', title: 'Home: call the bank' },
    ],
  },
};
