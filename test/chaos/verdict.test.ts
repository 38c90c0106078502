// The chaos report's own-check rule: an empty list or true passes; anything broken fails and
// becomes a finding (the first ten, shortened), so a scenario cannot pass with a broken check.
import { describe, expect, it } from 'vitest';
import { ownChecks } from './verdict.ts';

describe('ownChecks', () => {
  it('passes empty lists and true, fails the rest with their findings', () => {
    const broken = Array.from({ length: 12 }, (_, i) => `${i}:${'x'.repeat(500)}`);
    const [verdicts, findings] = ownChecks({ kept: [], ready: true, late: broken, down: false });
    expect(verdicts).toEqual({ kept: 'pass', ready: 'pass', late: 'fail', down: 'fail' });
    expect(Object.keys(findings)).toEqual(['late']);
    expect(findings['late']).toHaveLength(10);
    expect(findings['late']!.every((line) => line.length === 400)).toBe(true);
  });
});
