/** Errors of the version history. */
import { InputError } from '../../dataplane/errors.ts';

/** A version asked for does not exist; an input error (exit 2), since the caller named it. */
export class UnknownVersionError extends InputError {
  constructor(what: string, id: unknown, latest: number | null) {
    super(what, [{ path: [], message: `no intent version ${String(id)} (versions are 1…${latest ?? 0})` }]);
  }
}
