/** Terminal output helpers for the CLI: aligned tables and a progress reporter. */
import type { LabStatus, Progress } from '../../twin/index.ts';

/** Left-aligned columns separated by two spaces; the first row is the header. */
export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd()).join('\n') + '\n';
}

/** Progress lines on stderr: `[ 3/11] routes (0.2 s)`. */
export function progressPrinter(out: NodeJS.WritableStream = process.stderr): Progress {
  const t0 = Date.now();
  return ({ step, done, total }) => {
    out.write(`[${String(done).padStart(String(total).length)}/${total}] ${step} (${((Date.now() - t0) / 1000).toFixed(1)} s)\n`);
  };
}

/** The status table of a lab. */
export function statusTable(s: LabStatus): string {
  const rows = [['NODE', 'KIND', 'NAMESPACE', 'PROCS', 'INTERFACES', 'AGENT / ROUTING']];
  for (const n of s.nodes) {
    const ifs = n.interfaces.map((i) => `${i.name}${i.state === 'UP' ? '' : `(${i.state.toLowerCase()})`}${i.addresses.length ? ` ${i.addresses.join(',')}` : ''}`).join('; ');
    let agent = '';
    if (n.kind === 'edge') {
      const a = n.agent as { bundle?: { hash: string; site: string } | null; routes?: { installed: number; skipped: unknown[] }; lastError?: string | null; paths?: { state: string }[] } | undefined;
      const up = a?.paths?.filter((p) => p.state === 'up').length ?? 0;
      agent = !a ? 'not answering' : !a.bundle ? 'no bundle' : `bundle ${a.bundle.hash.slice(0, 12)} site ${a.bundle.site}, ${a.routes?.installed ?? 0} routes${a.routes?.skipped.length ? `, ${a.routes.skipped.length} need overlay` : ''}, paths ${up}/${a.paths?.length ?? 0} up`;
      if (a?.lastError) agent += ` (error: ${a.lastError})`;
    }
    if (n.router) agent = `${n.router.daemon}: ${n.router.sessions.map((x) => `${x.peer} ${x.state}`).join(', ') || 'no BGP neighbours'}`;
    rows.push([n.name, n.kind, n.present ? n.handle : `${n.handle} (missing)`, String(n.processes.length), ifs, agent]);
  }
  return `lab ${s.lab} (${s.provider}, ${s.state})\n` + table(rows);
}
