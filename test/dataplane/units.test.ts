import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { z } from 'zod';
import { parseDuration, parseRate, parseSize, parsePercent, Duration, Percent, Rate, formatRate } from '../../dataplane/units.ts';

test('parses durations into milliseconds', () => {
  assert.is(parseDuration('20ms'), 20);
  assert.is(parseDuration('1.5s'), 1500);
  assert.is(parseDuration('250us'), 0.25);
  assert.is(parseDuration('2m'), 120_000);
  assert.is(parseDuration('20'), undefined);
  assert.is(parseDuration('20 parsecs'), undefined);
});

test('parses rates into bits per second and sizes into bytes', () => {
  assert.is(parseRate('100mbit'), 100e6);
  assert.is(parseRate('1Gbit'), 1e9);
  assert.is(parseRate('64kbit'), 64e3);
  assert.is(parseRate('10mb'), undefined);
  assert.is(parseSize('64kb'), 64_000);
  assert.is(parseSize('1kib'), 1024);
  assert.is(parsePercent('0.5%'), 0.005);
  assert.is(parsePercent('5'), undefined);
});

test('unit schemas accept numbers in the base unit and reject bad units with the expectation', () => {
  const s = z.object({ delay: Duration(), loss: Percent(), rate: Rate() });
  assert.equal(s.parse({ delay: '20ms', loss: '1%', rate: 5e6 }), { delay: 20, loss: 0.01, rate: 5e6 });
  const r = s.safeParse({ delay: '20 fortnights', loss: '150%', rate: 'fast' });
  assert.not.ok(r.success);
  const msgs = r.error!.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  assert.equal(msgs, [
    'delay: expected a duration like "20ms", got "20 fortnights"',
    'loss: expected a percentage of at most 100%, got "150%"',
    'rate: expected a rate like "100mbit", got "fast"',
  ]);
});

test('formats rates for people', () => {
  assert.is(formatRate(100e6), '100mbit');
  assert.is(formatRate(1.5e9), '1.5gbit');
  assert.is(formatRate(999), '999bit');
});

test.run();
