/**
 * The one error type of dataplane/xdp and the wrapper that turns the addon's thrown errors into it.
 * Internal helpers (bpfError, native) are used by the other files of this folder only.
 */
import { constants } from 'node:os';

const errnoNames = new Map<number, string>(Object.entries(constants.errno).map(([k, v]) => [v, k]));

/** Lines of a libbpf/verifier log kept in {@link BpfError.message}: the head and the (telling) tail. */
const LOG_HEAD = 10, LOG_TAIL = 40;

function shortenLog(log: string): string {
  const lines = log.split('\n');
  if (lines.length <= LOG_HEAD + LOG_TAIL) return log;
  return [...lines.slice(0, LOG_HEAD), `... (${lines.length - LOG_HEAD - LOG_TAIL} lines elided; the whole log is in error.log) ...`,
    ...lines.slice(-LOG_TAIL)].join('\n');
}

/**
 * A failed BPF operation: `errno` (positive, e.g. 2), `code` ('ENOENT'), `call` (the libbpf function or
 * syscall, e.g. 'bpf_object__load'), `detail` (what it was applied to) and `log` (everything libbpf
 * printed during the call, e.g. the verifier log). `message` is
 * `<call>: <strerror> (errno N): <detail>` followed by the log, shortened to its first 10 and last 40
 * lines.
 */
export class BpfError extends Error {
  override name = 'BpfError';
  readonly errno: number;
  readonly code: string;
  readonly call: string;
  readonly detail: string;
  readonly log: string;
  constructor(call: string, errno: number, message: string, opts: { detail?: string; log?: string; cause?: unknown } = {}) {
    const log = opts.log ?? '';
    super(log ? `${message}\n${shortenLog(log)}` : message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.errno = errno;
    this.code = errnoNames.get(errno) ?? `E${errno}`;
    this.call = call;
    this.detail = opts.detail ?? '';
    this.log = log;
  }
}

/** Type guard for {@link BpfError}. */
export const isBpfError = (e: unknown): e is BpfError => e instanceof BpfError;

/** @internal A BpfError built in TypeScript (not by the addon): message `<call>: <strerror> (errno N): <detail>`. */
export function bpfError(call: string, errno: number, detail: string): BpfError {
  const code = errnoNames.get(errno) ?? `E${errno}`;
  return new BpfError(call, errno, `${call}: ${code} (errno ${errno}): ${detail}`, { detail });
}

/** @internal Runs an addon call, turning its errors (objects with errno and call) into BpfError. */
export function native<T>(fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    const x = e as { message?: string; errno?: unknown; call?: unknown; detail?: string; libbpfLog?: string };
    if (e instanceof Error && typeof x.errno === 'number' && typeof x.call === 'string') {
      throw new BpfError(x.call, x.errno, e.message, { detail: x.detail ?? '', log: x.libbpfLog ?? '' });
    }
    throw e;
  }
}

