import { describe, expect, it } from 'vitest';
import type { AuditRow } from '@mosaic/federation-core';
import { doctorExitCode, renderDoctor } from '../gateway/doctor.js';
import { usageByGrant } from './status.js';

const row = (o: Partial<AuditRow>): AuditRow => ({ id: 'r', at: '2030-01-01T00:00:00Z', grantId: 'g1', verb: 'list', outcome: 'allowed', ...o }) as AuditRow;

describe('status and doctor, pure parts', () => {
  it('counts federation requests per grant — not admin changes, enrollments or local queries', () => {
    const usage = usageByGrant([
      row({}),
      row({ verb: 'capabilities' }),
      row({ verb: 'get', outcome: 'denied' }),
      row({ verb: 'search', outcome: 'rate_limited' }),
      row({ verb: 'admin.grant.edit' }),
      row({ verb: 'enroll' }),
      row({ verb: 'query', grantId: null }),
      row({ grantId: 'g2', outcome: 'error' }),
    ]);
    expect(usage).toEqual({ g1: { requests: 4, denied: 1, rateLimited: 1 }, g2: { requests: 1, denied: 0, rateLimited: 0 } });
  });

  it('doctor: exit 1 on red, on yellow only with --strict; the verdict line says which', () => {
    const check = (status: 'green' | 'yellow' | 'red') => ({ id: `x.${status}`, status, message: 'm', remediation: status === 'green' ? null : 'fix it' });
    const yellow = { status: 'yellow' as const, checks: [check('green'), check('yellow')] };
    expect(doctorExitCode(yellow, false)).toBe(0);
    expect(doctorExitCode(yellow, true)).toBe(1);
    expect(doctorExitCode({ checks: [check('red')] }, false)).toBe(1);
    const text = renderDoctor(yellow, { strict: false, color: false });
    expect(text).toMatch(/^⚠ x\.yellow +m\n +→ fix it\n0 red, 1 yellow — exit 0 \(--strict fails on yellow\)$/m);
    expect(renderDoctor({ status: 'green', checks: [check('green')] }, { strict: true, color: false })).toBe(`✔ ${'x.green'.padEnd(24)} m\nall 1 checks green`);
  });
});
