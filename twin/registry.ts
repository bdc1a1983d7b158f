/** Registry of twin providers by name; a duplicate name is an error and an unknown name lists the known ones. */
import { TwinError, type TwinProvider } from './provider.ts';

const providers = new Map<string, () => TwinProvider>();

export function registerProvider(name: string, make: () => TwinProvider): void {
  if (providers.has(name)) throw new TwinError(`twin provider "${name}" is already registered`);
  providers.set(name, make);
}

export function getProvider(name: string): TwinProvider {
  const make = providers.get(name);
  if (!make) throw new TwinError(`unknown twin provider "${name}" (known: ${[...providers.keys()].sort().join(', ')})`);
  return make();
}

export const providerNames = () => [...providers.keys()].sort();
