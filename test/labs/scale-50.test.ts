// timeout: 240
// Lab labs/scale-50: 24 edges (hub-spoke) and their hosts on shared underlays.
import { scaleSuite } from './scale.ts';

scaleSuite(50);
