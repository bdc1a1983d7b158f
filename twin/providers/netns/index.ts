export { NetnsProvider, type LabState } from './provider.ts';
export { planLab, type NodePlan } from './plan.ts';
export { natRules, NAT_TABLE } from './nat.ts';
export { nsName, parseNsName, NS_PREFIX } from './names.ts';
export { birdConfig, frrConfig, routerSocket, routerSessions } from './routers.ts';
