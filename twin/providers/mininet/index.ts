/**
 * The mininet provider: Debian's mininet, driven from Node through bridge.py (JSON lines over
 * child_process, then a unix socket), sandboxed in private network, mount and pid namespaces with a
 * private /tmp because mininet's clean-up acts machine-wide. No switches (no Open vSwitch here): bridge
 * clouds are hosts with a Linux bridge. Rate via TCLink/HTB; no netem, so no delay, jitter or loss.
 */
export { MininetProvider, MININET_PYTHON, type MininetState } from './provider.ts';
