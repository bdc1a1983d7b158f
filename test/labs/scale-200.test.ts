// timeout: 600
// Lab labs/scale-200: 99 edges (hub-spoke) and their hosts on shared underlays.
import { scaleSuite } from './scale.ts';

scaleSuite(200);
