import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { compileText, edit, fixture, hashes } from './fixtures.ts';

// hub-spoke: hq (hub: default, guest, pci), br1 (default, pci), br2 (default, guest), br3 (default).
const f = fixture('hub-spoke');
const base = hashes(compileText(f.intentText, f.inventory));

function changed(text: string): string[] {
  const now = hashes(compileText(text, f.inventory));
  assert.equal(Object.keys(now), Object.keys(base));
  return Object.keys(now).filter((n) => now[n] !== base[n]).sort();
}

test('an unchanged intent changes no bundle', () => {
  assert.equal(changed(f.intentText), []);
});

test('changing the latency of an SLA class used only in the pci segment changes only the edges carrying pci', () => {
  const text = edit(f.intentText, 'transactional: { latency: 300ms', 'transactional: { latency: 250ms');
  assert.equal(changed(text), ['br1-edge', 'hq-edge']);
});

test('changing the latency of the voice SLA class changes every bundle, since every edge carries voice', () => {
  assert.equal(changed(edit(f.intentText, 'voice: { latency: 150ms', 'voice: { latency: 120ms')), ['br1-edge', 'br2-edge', 'br3-edge', 'hq-edge']);
});

test('changing one site\'s guest LAN prefix changes that site and its guest peer (the hub), not unrelated sites', () => {
  assert.equal(changed(edit(f.intentText, 'guest: [192.168.2.0/24]', 'guest: [192.168.3.0/24]')), ['br2-edge', 'hq-edge']);
});

test('changing one site\'s pci LAN prefix changes that site and the hub only', () => {
  assert.equal(changed(edit(f.intentText, 'pci: [10.251.0.0/24]', 'pci: [10.251.0.0/25]')), ['br1-edge', 'hq-edge']);
});

test('changing a corporate LAN prefix changes every edge of the default segment', () => {
  assert.equal(changed(edit(f.intentText, 'lanPrefixes: [10.3.0.0/24]', 'lanPrefixes: [10.3.0.0/23]')), ['br1-edge', 'br2-edge', 'br3-edge', 'hq-edge']);
});

test('a comment or whitespace change in the intent changes no bundle', () => {
  assert.equal(changed(`# reviewed\n${f.intentText.replace('topology:\n', 'topology:   \n')}`), []);
});

test.run();
