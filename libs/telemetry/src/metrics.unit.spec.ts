import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import {
  CollectingMetricReader,
  cycleMetrics,
  eventMetrics,
  METRIC,
  metricsExportRequested,
  observeConsumerLag,
  observeRelayLag,
  sshMetrics,
  startTelemetry,
  stepMetrics,
  type Telemetry,
} from './index.js';

describe('metrics', () => {
  const reader = new CollectingMetricReader();
  let telemetry: Telemetry;
  before(() => {
    // Recorded before the SDK starts: a no-op, and must not break the instruments made later.
    cycleMetrics().ended({ kind: 'manual', outcome: 'completed', durationSeconds: 1 });
    telemetry = startTelemetry({ serviceName: 'metrics-test', metricReaders: [reader] });
  });
  after(() => telemetry.shutdown());

  it('metric export is off unless the standard OTEL_* variables ask for it', () => {
    assert.equal(metricsExportRequested({}), false);
    assert.equal(metricsExportRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://127.0.0.1:4318' }), true);
    assert.equal(metricsExportRequested({ OTEL_EXPORTER_OTLP_METRICS_ENDPOINT: 'http://127.0.0.1:4318/v1/metrics' }), true);
    assert.equal(metricsExportRequested({ OTEL_METRICS_EXPORTER: 'otlp' }), true);
    assert.equal(metricsExportRequested({ OTEL_METRICS_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://x' }), false);
    assert.equal(metricsExportRequested({ OTEL_SDK_DISABLED: 'true', OTEL_METRICS_EXPORTER: 'otlp' }), false);
    assert.equal(telemetry.metricsExporting, true);
  });

  it('cycles: counted by kind and outcome, duration in seconds; nothing from before the SDK started', async () => {
    cycleMetrics().ended({ kind: 'emergency', outcome: 'completed', durationSeconds: 42 });
    cycleMetrics().ended({ kind: 'emergency', outcome: 'completed', durationSeconds: 8 });
    cycleMetrics().ended({ kind: 'scheduled', outcome: 'halted', durationSeconds: -3 });
    const counts = await reader.points(METRIC.cycles);
    assert.deepEqual(
      counts.map((p) => [p.attributes['patchbay.cycle.kind'], p.attributes['patchbay.outcome'], p.value]).sort(),
      [['emergency', 'completed', 2], ['scheduled', 'halted', 1]],
    );
    const durations = await reader.points(METRIC.cycleDuration);
    const emergency = durations.find((p) => p.attributes['patchbay.cycle.kind'] === 'emergency');
    assert.equal(emergency?.count, 2);
    assert.equal(emergency?.value, 50);
    assert.ok(emergency?.boundaries?.includes(3600), 'buckets suit seconds to hours');
    assert.equal(durations.find((p) => p.attributes['patchbay.cycle.kind'] === 'scheduled')?.value, 0, 'a clock step back is not a negative duration');
    assert.equal(await reader.unit(METRIC.cycleDuration), 's');
  });

  it('steps: counted and timed by step type and outcome', async () => {
    stepMetrics().record({ stepType: 'install', outcome: 'succeeded', durationSeconds: 12.5 });
    stepMetrics().record({ stepType: 'install', outcome: 'failed', durationSeconds: 3 });
    stepMetrics().record({ stepType: 'reboot', outcome: 'succeeded' });
    const counts = await reader.points(METRIC.steps);
    assert.deepEqual(
      counts.map((p) => [p.attributes['patchbay.step.type'], p.attributes['patchbay.outcome'], p.value]).sort(),
      [['install', 'failed', 1], ['install', 'succeeded', 1], ['reboot', 'succeeded', 1]],
    );
    const durations = await reader.points(METRIC.stepDuration);
    assert.equal(durations.length, 2, 'a step without a duration is counted, not timed');
    assert.equal(durations.find((p) => p.attributes['patchbay.outcome'] === 'succeeded')?.value, 12.5);
    assert.equal(await reader.unit(METRIC.stepDuration), 's');
  });

  it('ssh: connect and command durations in ms by outcome; errors by code, no endpoint in attributes', async () => {
    sshMetrics().connected(35);
    sshMetrics().connected(10_000, 'HOST_UNREACHABLE');
    sshMetrics().command(120);
    sshMetrics().command(80);
    sshMetrics().command(5000, 'REMOTE_TIMEOUT');
    const connect = await reader.points(METRIC.sshConnectDuration);
    assert.deepEqual(connect.map((p) => [p.attributes['patchbay.outcome'], p.count, p.value]).sort(), [['error', 1, 10_000], ['ok', 1, 35]]);
    const command = await reader.points(METRIC.sshCommandDuration);
    assert.deepEqual(command.map((p) => [p.attributes['patchbay.outcome'], p.count, p.value]).sort(), [['error', 1, 5000], ['ok', 2, 200]]);
    assert.equal(await reader.unit(METRIC.sshCommandDuration), 'ms');
    assert.equal(await reader.unit(METRIC.sshConnectDuration), 'ms');
    const errors = await reader.points(METRIC.sshErrors);
    assert.deepEqual(errors.map((p) => [p.attributes['error.type'], p.value]).sort(), [['HOST_UNREACHABLE', 1], ['REMOTE_TIMEOUT', 1]]);
    for (const p of [...connect, ...command, ...errors]) assert.deepEqual(Object.keys(p.attributes).filter((k) => /endpoint|host/.test(k)), []);
  });

  it('events appended: counted by category; a zero count adds nothing', async () => {
    eventMetrics().appended('cycle', 3);
    eventMetrics().appended('run');
    eventMetrics().appended('run', 0);
    const points = await reader.points(METRIC.eventsAppended);
    assert.deepEqual(points.map((p) => [p.attributes['patchbay.event.category'], p.value]).sort(), [['cycle', 3], ['run', 1]]);
  });

  it('relay lag: both gauges from one probe per collection; a failing probe does not fail the collection; unregistered when stopped', async () => {
    let calls = 0;
    let fail = false;
    const stop = observeRelayLag('relay-jetstream', async () => {
      calls++;
      if (fail) throw new Error('store busy');
      return { events: 17, oldestAgeSeconds: 2.5 };
    });
    const all = await reader.collectAll();
    assert.equal(calls, 1);
    const lag = all.find((m) => m.descriptor.name === METRIC.relayLag);
    const age = all.find((m) => m.descriptor.name === METRIC.relayLagAge);
    assert.equal(lag?.dataPoints[0]?.value, 17);
    assert.equal(lag?.dataPoints[0]?.attributes['patchbay.relay.name'], 'relay-jetstream');
    assert.equal(age?.dataPoints[0]?.value, 2.5);
    assert.equal(age?.descriptor.unit, 's');
    fail = true;
    // The SDK keeps a gauge's last value (cumulative), so a failing probe leaves the previous one.
    const { errors } = await reader.collect();
    assert.deepEqual(errors, []);
    assert.equal(calls, 2);
    fail = false;
    stop();
    await reader.collectAll();
    assert.equal(calls, 2, 'the probe no longer runs');
  });

  it('consumer lag: num_pending + num_ack_pending per durable; a failing probe does not fail the collection; unregistered when stopped', async () => {
    let fail = false;
    let calls = 0;
    const stop = observeConsumerLag(() => {
      calls++;
      if (fail) throw new Error('nats down');
      return [
        { durable: 'planner_run_results', numPending: 5, numAckPending: 1 },
        { durable: 'inventory_patchbay_evt_endpoint_ALL', numPending: 0, numAckPending: 0 },
      ];
    });
    const points = await reader.points(METRIC.consumerLag);
    assert.deepEqual(points.map((p) => [p.attributes['messaging.consumer.group.name'], p.value]).sort(), [['inventory_patchbay_evt_endpoint_ALL', 0], ['planner_run_results', 6]]);
    fail = true;
    assert.deepEqual((await reader.collect()).errors, []);
    assert.equal(calls, 2);
    stop();
    await reader.collectAll();
    assert.equal(calls, 2, 'the probe no longer runs');
  });
});
