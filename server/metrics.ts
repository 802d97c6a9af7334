// One Prometheus registry for the whole process; every module registers its metrics here.
import { Registry, collectDefaultMetrics } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry });
