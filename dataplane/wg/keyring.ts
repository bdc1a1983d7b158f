/**
 * An edge's WireGuard key pairs across rotations (docs/overlay.md, "Keys"): the current key (`wg.key`), at
 * most one next key while a rotation is under way (`wg.key.next`), both 0600 private keys, and the current
 * key's generation (`wg.key.json`: `{generation, publicKey}`; 0 for the first key, +1 per rotation). Only
 * public halves and generations leave this file's owner.
 *
 * The next key becomes the current one when the controller's bundle uses it and no longer uses the current
 * one ({@link KeyRing.promote}): rename first, then the generation record — a crash in between is recognised
 * on the next read (the record names another public key) and the generation is moved on then.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { ensureKeyFile, publicKeyOf, generatePrivateKey } from './keys.ts';

/** One key as reported: its public half and generation. */
export interface KeyInfo { publicKey: string; generation: number }

/** What `GET /wg-key` reports: the current key, and the next one during a rotation. */
export interface KeyRingState extends KeyInfo { next?: KeyInfo }

export class KeyRing {
  private cache?: KeyRingState;

  /** `file`: the current key's path (e.g. `<state>/wg.key`); the next key and the record sit beside it. */
  constructor(readonly file: string) {}

  private get nextFile() { return `${this.file}.next`; }
  private get recordFile() { return `${this.file}.json`; }

  /** The current key (created on first use) and the next one if a rotation is under way. */
  state(): KeyRingState {
    if (this.cache) return this.cache;
    const publicKey = ensureKeyFile(this.file);
    const rec = this.readRecord();
    const generation = !rec ? 0 : rec.publicKey === publicKey ? rec.generation : rec.generation + 1;
    if (rec?.publicKey !== publicKey) this.writeRecord({ publicKey, generation });
    const next = existsSync(this.nextFile) ? { publicKey: publicKeyOf(readFileSync(this.nextFile, 'utf8').trim()), generation: generation + 1 } : undefined;
    return (this.cache = { publicKey, generation, ...(next && { next }) });
  }

  private readRecord(): KeyInfo | undefined {
    try { return JSON.parse(readFileSync(this.recordFile, 'utf8')) as KeyInfo; } catch { return undefined; }
  }

  private writeRecord(r: KeyInfo): void {
    writeFileSync(`${this.recordFile}.tmp`, JSON.stringify(r) + '\n', { mode: 0o600 });
    renameSync(`${this.recordFile}.tmp`, this.recordFile);
  }

  /** Start a rotation: create the next key unless one exists (idempotent). Returns the new state. */
  rotate(): KeyRingState {
    if (!this.state().next) {
      writeFileSync(`${this.nextFile}.tmp`, generatePrivateKey() + '\n', { mode: 0o600 });
      renameSync(`${this.nextFile}.tmp`, this.nextFile);
      this.cache = undefined;
    }
    return this.state();
  }

  /**
   * The private key file of generation `generation` (undefined: the current key), or undefined when this
   * edge holds no such key (a bundle compiled for a key it lost).
   */
  fileOf(generation?: number): string | undefined {
    const s = this.state();
    if (generation === undefined || generation === s.generation) return this.file;
    if (s.next && generation === s.next.generation) return this.nextFile;
    return undefined;
  }

  /** Make the next key the current one (the old private key is gone). No-op without a rotation. */
  promote(): KeyRingState {
    const s = this.state();
    if (!s.next) return s;
    renameSync(this.nextFile, this.file);
    this.writeRecord(s.next);
    this.cache = undefined;
    return this.state();
  }
}
