// Prometheus metrics of the control plane, served by the API at /metrics.
import { collectDefaultMetrics, Counter, Registry } from 'prom-client';

export const metrics = new Registry();
collectDefaultMetrics({ register: metrics, prefix: 'durabox_api_' });

export const tasksStarted = new Counter({
  name: 'durabox_tasks_started_total',
  help: 'Task workflows started, by capability',
  labelNames: ['capability'],
  registers: [metrics],
});
