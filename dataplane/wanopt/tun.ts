/**
 * A TUN device (native addon, tun.cc): bare IP packets in and out of the local stack. The FEC relay reads
 * the packets policy routing sends into it and writes recovered packets back, which the kernel then
 * forwards like any received packet. The device exists while the object is open.
 *
 * Reading is driven by the event loop (the addon's `tunWatch`: epoll on the non-blocking fd, up to 64
 * packets per wake-up), so an idle device costs nothing and any number of devices can be open at once.
 *
 * Example: `const tun = TunDevice.open('ptfec1', (pkt) => …); tun.write(packet); tun.close();`
 */
import { closeSync, writeSync } from 'node:fs';
import { WanoptError } from './errors.ts';
import { wanoptAddon } from './native.ts';

export class TunDevice {
  private closed = false;
  private readonly watch: number;
  /** Packets read / written, and write errors (e.g. the device is down). */
  readonly stats = { rx: 0, tx: 0, txErrors: 0 };
  /** The read error that stopped reading (the device vanished), if any; writes may still work. */
  readError: Error | null = null;

  private constructor(readonly name: string, private readonly fd: number, onPacket: (p: Buffer) => void) {
    this.watch = wanoptAddon()!.tunWatch(fd, 65536, (err, packets) => {
      if (err) { this.readError = err; return; }
      for (const p of packets!) {
        if (this.closed) return;
        this.stats.rx++;
        onPacket(p);
      }
    });
  }

  /** Create the device `name` (≤ 15 characters) and start reading; needs CAP_NET_ADMIN and the addon. */
  static open(name: string, onPacket: (packet: Buffer) => void): TunDevice {
    const addon = wanoptAddon();
    if (!addon) throw new WanoptError('wanopt tun: the native addon is not built (run `node scripts/build.mjs`)');
    const { fd, name: actual } = addon.tunOpen(name);
    try {
      return new TunDevice(actual, fd, onPacket);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  /** Inject one IP packet into the stack (as if received on the device). */
  write(packet: Buffer): void {
    if (this.closed) return;
    try { writeSync(this.fd, packet); this.stats.tx++; } catch { this.stats.txErrors++; }
  }

  /** Stop reading and remove the device. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    wanoptAddon()!.tunUnwatch(this.watch);
    try { closeSync(this.fd); } catch { /* already closed */ }
  }
}
