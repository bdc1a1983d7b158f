export { NetnsProvider, type LabState } from './provider.ts';
export { planLab, type NodePlan } from './plan.ts';
export { nsName, parseNsName, NS_PREFIX } from './names.ts';
export { birdConfig, frrConfig, routerSocket } from './routers.ts';
