/** Inventory for compiling versions: from a lab (the twin), an inventory file, or the enrolled edges' reports. */
import { InputError, validate } from '../../dataplane/errors.ts';
import { Inventory, InventoryEdge } from '../../dataplane/inventory.ts';
import { readYamlFile } from '../../dataplane/validate.ts';
import { labInventory, loadLab } from '../../twin/index.ts';
import type { Store } from '../store/index.ts';

/** An inventory and the name errors about it should show. */
export interface InventorySource { inventory: Inventory; file: string }

/** The inventory of a lab file, as the twin derives it. @throws InputError when the lab is invalid. */
export function inventoryFromLab(file: string): InventorySource {
  return { inventory: labInventory(loadLab(file)), file };
}

/** An inventory YAML/JSON file (dataplane/inventory.ts schema). @throws InputError when invalid. */
export function inventoryFromFile(file: string): InventorySource {
  const src = readYamlFile(file);
  return { inventory: validate(Inventory, src.data, file, src), file };
}

/**
 * The inventory the enrolled edges reported: every edge in the store with a site and an inventory, where the
 * stored inventory is `{ interfaces: [...] }` (an InventoryEdge without node and site). An edge whose every
 * certificate is revoked is marked `revoked` (the compiler drops it from every other edge's bundle; whatever the
 * edge itself reported about that is ignored). Returns null when no edge has reported yet.
 * @throws InputError naming `store:edges.<name>.inventory` when a report does not match the schema.
 */
export async function inventoryFromStore(store: Store): Promise<InventorySource | null> {
  const edges = (await store.listEdges()).filter((e) => e.site !== null && e.inventory !== null);
  if (!edges.length) return null;
  // Revoked: certificates issued and every one revoked (a renewed edge whose old certificate was revoked is not).
  const allRevoked = new Map<string, boolean>();
  for (const c of await store.listCertificates()) allRevoked.set(c.edge, (allRevoked.get(c.edge) ?? true) && c.revokedAt !== null);
  const revoked = new Set([...allRevoked].filter(([, all]) => all).map(([edge]) => edge));
  const out = edges.map((e) => {
    const { revoked: _claimed, ...reported } = e.inventory as { revoked?: unknown };
    return validate(InventoryEdge, { ...reported, node: e.name, site: e.site, ...(revoked.has(e.name) && { revoked: true }) }, `store:edges.${e.name}.inventory`);
  });
  return { inventory: { source: 'enrolment', edges: out }, file: 'store:edges' };
}

/** The error when no inventory source is available. */
export function noInventoryError(what: string): InputError {
  return new InputError(what, [{ path: [], message: 'no inventory to compile against: pass --lab LAB.yaml or --inventory FILE (or put lab.yaml beside the intent), or enrol edges first' }]);
}
