import assert from 'node:assert/strict';
import { frontendRequests, parsePrometheusText, requestsPerTask } from '../../bench/prometheus.js';

const TEXT = `# HELP service_requests service_requests counter
# TYPE service_requests counter
service_requests{namespace="default",operation="StartWorkflowExecution",service_name="frontend"} 12
service_requests{namespace="default",operation="StartWorkflowExecution",service_name="history"} 12
service_requests{namespace="default",operation="PollWorkflowTaskQueue",service_name="frontend"} 30
service_requests{namespace="temporal_system",operation="PollWorkflowTaskQueue",service_name="frontend"} 99
service_requests{namespace="_unknown_",operation="GetSystemInfo",service_name="frontend"} 1
service_latency_sum{namespace="default",operation="PollWorkflowTaskQueue",service_name="frontend"} 1.5e+03
process_cpu_seconds_total 4.2
`;

describe('bench: Temporal request counters', () => {
  it('parsePrometheusText: names, labels and values; comments skipped', () => {
    const samples = parsePrometheusText(TEXT);
    assert.equal(samples.length, 7);
    assert.deepEqual(samples[0], { name: 'service_requests', labels: { namespace: 'default', operation: 'StartWorkflowExecution', service_name: 'frontend' }, value: 12 });
    assert.deepEqual(samples[5].value, 1500);
    assert.deepEqual(samples[6], { name: 'process_cpu_seconds_total', labels: {}, value: 4.2 });
  });

  it('parsePrometheusText: escaped quotes in a label value', () => {
    const [s] = parsePrometheusText('m{a="x\\"y",b="z"} 1\n');
    assert.deepEqual(s.labels, { a: 'x"y', b: 'z' });
  });

  it('frontendRequests: only the frontend, only the namespace asked for', () => {
    assert.deepEqual(frontendRequests(TEXT, 'default'), { StartWorkflowExecution: 12, PollWorkflowTaskQueue: 30 });
  });

  it('requestsPerTask: the growth by operation, largest first, per task', () => {
    const r = requestsPerTask({ A: 10, B: 5, C: 7 }, { A: 30, B: 5, C: 17, D: 4 }, 10);
    assert.equal(r.total, 34);
    assert.equal(r.perTask, 3.4);
    assert.deepEqual(r.byOperation, [
      { operation: 'A', count: 20, perTask: 2 },
      { operation: 'C', count: 10, perTask: 1 },
      { operation: 'D', count: 4, perTask: 0.4 },
    ]);
  });
});
