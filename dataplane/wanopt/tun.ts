/**
 * A TUN device (native addon, tun.cc): bare IP packets in and out of the local stack. The FEC relay reads
 * the packets policy routing sends into it and writes recovered packets back, which the kernel then
 * forwards like any received packet. The device exists while the object is open.
 *
 * Example: `const tun = TunDevice.open('ptfec1', (pkt) => …); tun.write(packet); tun.close();`
 */
import { closeSync, writeSync } from 'node:fs';
import { WanoptError } from './errors.ts';
import { wanoptAddon } from './native.ts';

export class TunDevice {
  private closed = false;
  /** Packets read / written, and write errors (e.g. the device is down). */
  readonly stats = { rx: 0, tx: 0, txErrors: 0 };

  private constructor(readonly name: string, private readonly fd: number, private readonly onPacket: (p: Buffer) => void) {
    void this.loop();
  }

  /** Create the device `name` (≤ 15 characters) and start reading; needs CAP_NET_ADMIN and the addon. */
  static open(name: string, onPacket: (packet: Buffer) => void): TunDevice {
    const addon = wanoptAddon();
    if (!addon) throw new WanoptError('wanopt tun: the native addon is not built (run `node scripts/build.mjs`)');
    const { fd, name: actual } = addon.tunOpen(name);
    return new TunDevice(actual, fd, onPacket);
  }

  private async loop(): Promise<void> {
    const addon = wanoptAddon()!;
    while (!this.closed) {
      let p: Buffer | null;
      // A bounded wait, so that close() is noticed within 200 ms even without traffic.
      try { p = await addon.tunRead(this.fd, 65536, 200); } catch { if (this.closed) return; await new Promise((r) => setTimeout(r, 50)); continue; }
      if (p && !this.closed) { this.stats.rx++; this.onPacket(p); }
    }
  }

  /** Inject one IP packet into the stack (as if received on the device). */
  write(packet: Buffer): void {
    if (this.closed) return;
    try { writeSync(this.fd, packet); this.stats.tx++; } catch { this.stats.txErrors++; }
  }

  /** Stop reading and remove the device (after the reader's current wait ends). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    // The reader may be inside poll(); closing after its timeout avoids a read on a reused fd number.
    setTimeout(() => { try { closeSync(this.fd); } catch { /* already closed */ } }, 250).unref();
  }
}
