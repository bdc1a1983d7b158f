/**
 * The agent's per-SLA-class compliance (dataplane/agent/compliance.ts): intervals on a compliant path count as
 * met, on a violating path or with no path as missed; warm-up after a load; duplicate needs one copy's path;
 * a one-minute sliding window; the worst class is the headline figure.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ComplianceTracker, COMPLIANCE_WARMUP_MS, COMPLIANCE_WINDOW_MS } from '../../dataplane/agent/compliance.ts';
import type { Bundle } from '../../dataplane/bundle/index.ts';
import type { SteeringEntry } from '../../dataplane/steer/index.ts';

const rule = (name: string, slaClass?: string): Bundle['rules'][number] => ({
  name, segment: 'default', appClass: name, ...(slaClass && { slaClass }), service: 'overlay', strategy: 'preference', preferred: [], perPacket: false,
});
const entry = (rule: string, site: string, pathIds: number[], mode: SteeringEntry['mode'] = 'preference'): SteeringEntry => ({
  segment: 'default', appClass: rule, site, rule, mode, pathIds, weights: pathIds.map(() => 1), keep: [], since: 0,
});
const RULES = [rule('voice', 'voice'), rule('video', 'video'), rule('bulk')];

test('intervals on a path meeting the class count as met, on a violating path or with no path as missed', () => {
  const t = new ComplianceTracker();
  t.reset(RULES, 0);
  const meets: Record<number, Set<string>> = { 1: new Set(['voice', 'video']), 2: new Set(['video']) };
  for (let i = 0; i < 10; i++) {
    // voice to s2 on path 1 (meets) for 6 intervals, then on path 2 (does not meet voice) for 2, then on no path for 2
    const voicePath = i < 6 ? [1] : i < 8 ? [2] : [];
    t.sample(100 * i, [entry('voice', 's2', voicePath), entry('video', 's2', [2]), entry('bulk', 's2', [])], (id) => meets[id]);
  }
  const r = t.report(1000);
  assert.equal(r.classes, { video: { compliance: 1, samples: 10 }, voice: { compliance: 0.6, samples: 10 } });
  assert.is(r.slaCompliance, 0.6, 'the worst class is the headline');
  assert.is(r.windowMs, COMPLIANCE_WINDOW_MS);
});

test('no class with samples: no figure at all (the gate does not judge it)', () => {
  const t = new ComplianceTracker();
  t.reset([rule('bulk')], 0);
  t.sample(0, [entry('bulk', 's2', [1])], () => new Set());
  assert.equal(t.report(0), { windowMs: COMPLIANCE_WINDOW_MS, slaCompliance: null, classes: {} });
});

test('a destination counts from its first met interval, or from the end of the warm-up', () => {
  const t = new ComplianceTracker();
  t.reset(RULES, 0);
  const up = new Set(['voice']);
  // s2 comes up after 2 s; s3 never does.
  for (let now = 0; now < COMPLIANCE_WARMUP_MS + 1000; now += 100) {
    t.sample(now, [entry('voice', 's2', [1]), entry('voice', 's3', [2])], (id) => (id === 1 && now >= 2000 ? up : new Set()));
  }
  const c = t.report(COMPLIANCE_WARMUP_MS + 1000).classes.voice!;
  // s2: 2000..10900 met (90 samples); s3: 10000..10900 missed (10 samples).
  assert.is(c.samples, 100);
  assert.is(c.compliance, 0.9);
});

test('duplicate needs one compliant copy; other strategies need every path new flows take', () => {
  const t = new ComplianceTracker();
  t.reset([rule('voice', 'voice')], 0);
  const meets = (id: number) => (id === 1 ? new Set(['voice']) : new Set<string>());
  t.sample(0, [entry('voice', 's2', [1, 2], 'duplicate')], meets);
  assert.is(t.report(0).slaCompliance, 1);
  t.reset([rule('voice', 'voice')], 0);
  t.sample(COMPLIANCE_WARMUP_MS, [entry('voice', 's2', [1, 2], 'load-balance')], meets);
  assert.is(t.report(COMPLIANCE_WARMUP_MS).slaCompliance, 0);
});

test('the window slides: a minute later an old outage no longer counts; a reset forgets the old bundle', () => {
  const t = new ComplianceTracker();
  t.reset([rule('voice', 'voice')], 0);
  const yes = () => new Set(['voice']), no = () => new Set<string>();
  t.sample(0, [entry('voice', 's2', [1])], yes);
  for (let now = 1000; now < 5000; now += 1000) t.sample(now, [entry('voice', 's2', [1])], no);
  assert.is(t.report(5000).slaCompliance, 0.2);
  for (let now = 5000; now < 5000 + COMPLIANCE_WINDOW_MS; now += 1000) t.sample(now, [entry('voice', 's2', [1])], yes);
  assert.is(t.report(5000 + COMPLIANCE_WINDOW_MS).slaCompliance, 1);
  t.reset([rule('voice', 'voice')], 70_000);
  assert.is(t.report(70_000).slaCompliance, null);
});

test.run();
