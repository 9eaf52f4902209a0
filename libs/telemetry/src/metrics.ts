import { metrics, ValueType, type Attributes, type BatchObservableResult, type Counter, type Histogram, type Meter, type MeterProvider, type ObservableGauge, type ObservableResult } from '@opentelemetry/api';

/**
 * Names of every Patchbay metric, one place so dashboards, alerts and tests agree.
 * Attributes are kept low-cardinality on purpose: no endpoint ids, cycle ids or command lines.
 */
export const METRIC = {
  cycles: 'patchbay.cycles',
  cycleDuration: 'patchbay.cycle.duration',
  steps: 'patchbay.steps',
  stepDuration: 'patchbay.step.duration',
  sshCommandDuration: 'patchbay.ssh.command.duration',
  sshConnectDuration: 'patchbay.ssh.connect.duration',
  sshErrors: 'patchbay.ssh.errors',
  relayLag: 'patchbay.relay.lag',
  relayLagAge: 'patchbay.relay.oldest_unrelayed.age',
  consumerLag: 'patchbay.consumer.lag',
  eventsAppended: 'patchbay.events.appended',
} as const;

/** Attribute keys used by the instruments. */
export const METRIC_ATTR = {
  cycleKind: 'patchbay.cycle.kind',
  outcome: 'patchbay.outcome',
  stepType: 'patchbay.step.type',
  errorType: 'error.type',
  category: 'patchbay.event.category',
  relayName: 'patchbay.relay.name',
  consumer: 'messaging.consumer.group.name',
} as const;

/** Meter scope of the product's instruments. */
export const METER_NAME = '@patchbay/telemetry';

const SECONDS_LONG = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14_400, 43_200, 86_400];
const SECONDS_STEP = [0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];
const MS_COMMAND = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000, 60_000, 300_000, 600_000];
const MS_CONNECT = [5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10_000, 30_000];

interface Instruments {
  meter: Meter;
  cycles: Counter;
  cycleDuration: Histogram;
  steps: Counter;
  stepDuration: Histogram;
  sshCommandDuration: Histogram;
  sshConnectDuration: Histogram;
  sshErrors: Counter;
  relayLag: ObservableGauge;
  relayLagAge: ObservableGauge;
  consumerLag: ObservableGauge;
  eventsAppended: Counter;
}

// Instruments made from the no-op provider stay no-ops forever, so they are created per global
// provider (the SDK is usually started after modules are loaded) and cached for it.
const byProvider = new WeakMap<MeterProvider, Instruments>();

function instruments(): Instruments {
  const provider = metrics.getMeterProvider();
  let found = byProvider.get(provider);
  if (found) return found;
  const meter: Meter = provider.getMeter(METER_NAME);
  const hist = (name: string, unit: string, description: string, boundaries: number[]): Histogram =>
    meter.createHistogram(name, { unit, description, advice: { explicitBucketBoundaries: boundaries } });
  found = {
    meter,
    cycles: meter.createCounter(METRIC.cycles, { unit: '{cycle}', description: 'Cycles that ended, by kind and outcome', valueType: ValueType.INT }),
    cycleDuration: hist(METRIC.cycleDuration, 's', 'From cycle request to its end', SECONDS_LONG),
    steps: meter.createCounter(METRIC.steps, { unit: '{step}', description: 'Workflow steps finished, by step type and outcome', valueType: ValueType.INT }),
    stepDuration: hist(METRIC.stepDuration, 's', 'Duration of one workflow step on one endpoint', SECONDS_STEP),
    sshCommandDuration: hist(METRIC.sshCommandDuration, 'ms', 'One remote command over SSH, channel open to exit', MS_COMMAND),
    sshConnectDuration: hist(METRIC.sshConnectDuration, 'ms', 'TCP connect, SSH handshake and authentication', MS_CONNECT),
    sshErrors: meter.createCounter(METRIC.sshErrors, { unit: '{error}', description: 'SSH connects and commands that failed, by error code', valueType: ValueType.INT }),
    relayLag: meter.createObservableGauge(METRIC.relayLag, { unit: '{event}', description: 'Events in the store after the relay checkpoint (not yet on JetStream)', valueType: ValueType.INT }),
    relayLagAge: meter.createObservableGauge(METRIC.relayLagAge, { unit: 's', description: 'Age of the oldest event not yet relayed (0 when none)' }),
    consumerLag: meter.createObservableGauge(METRIC.consumerLag, { unit: '{message}', description: 'JetStream num_pending + num_ack_pending of a durable consumer', valueType: ValueType.INT }),
    eventsAppended: meter.createCounter(METRIC.eventsAppended, { unit: '{event}', description: 'Events appended to the event store, by stream category', valueType: ValueType.INT }),
  };
  byProvider.set(provider, found);
  return found;
}

/** Outcome of a finished cycle. */
export type CycleOutcome = 'completed' | 'halted' | 'aborted';

/**
 * Cycle metrics: `patchbay.cycles` (counter, `{cycle}`) and `patchbay.cycle.duration` (histogram,
 * `s`), both with `patchbay.cycle.kind` (`scheduled` | `manual` | `emergency`) and `patchbay.outcome`.
 */
export function cycleMetrics(): { ended(input: { kind: string; outcome: CycleOutcome; durationSeconds?: number }): void } {
  const i = instruments();
  return {
    ended({ kind, outcome, durationSeconds }) {
      const attributes = { [METRIC_ATTR.cycleKind]: kind, [METRIC_ATTR.outcome]: outcome };
      i.cycles.add(1, attributes);
      if (durationSeconds !== undefined && Number.isFinite(durationSeconds)) i.cycleDuration.record(Math.max(0, durationSeconds), attributes);
    },
  };
}

/** Outcome of a finished step. */
export type StepOutcome = 'succeeded' | 'failed' | 'cancelled' | 'skipped';

/**
 * Step metrics for the executor: `patchbay.steps` (counter, `{step}`, by `patchbay.step.type` and
 * `patchbay.outcome`) and `patchbay.step.duration` (histogram, `s`, same attributes).
 * Call `stepMetrics().record({ stepType, outcome, durationSeconds })` once per step and endpoint.
 */
export function stepMetrics(): { record(input: { stepType: string; outcome: StepOutcome; durationSeconds?: number }): void } {
  const i = instruments();
  return {
    record({ stepType, outcome, durationSeconds }) {
      const attributes = { [METRIC_ATTR.stepType]: stepType, [METRIC_ATTR.outcome]: outcome };
      i.steps.add(1, attributes);
      if (durationSeconds !== undefined && Number.isFinite(durationSeconds)) i.stepDuration.record(Math.max(0, durationSeconds), attributes);
    },
  };
}

/**
 * SSH metrics: `patchbay.ssh.connect.duration` and `patchbay.ssh.command.duration` (histograms,
 * `ms`, with `patchbay.outcome` = `ok` | `error`), and `patchbay.ssh.errors` (counter, `{error}`,
 * by `error.type` = the error's stable code, e.g. `HOST_UNREACHABLE`, `REMOTE_TIMEOUT`).
 * A command that ran and exited non-zero is `ok` here: SSH worked.
 */
export function sshMetrics(): {
  connected(durationMs: number, errorCode?: string): void;
  command(durationMs: number, errorCode?: string): void;
} {
  const i = instruments();
  const record = (h: Histogram, durationMs: number, errorCode: string | undefined): void => {
    h.record(Math.max(0, durationMs), { [METRIC_ATTR.outcome]: errorCode ? 'error' : 'ok' });
    if (errorCode) i.sshErrors.add(1, { [METRIC_ATTR.errorType]: errorCode });
  };
  return {
    connected: (durationMs, errorCode) => record(i.sshConnectDuration, durationMs, errorCode),
    command: (durationMs, errorCode) => record(i.sshCommandDuration, durationMs, errorCode),
  };
}

/** `patchbay.events.appended` (counter, `{event}`, by `patchbay.event.category`, e.g. `cycle`, `run`). */
export function eventMetrics(): { appended(category: string, count?: number): void } {
  const i = instruments();
  return {
    appended(category, count = 1) {
      if (count > 0) i.eventsAppended.add(count, { [METRIC_ATTR.category]: category });
    },
  };
}

/** What a relay reports when asked for its lag. */
export interface RelayLag {
  /** Events stored after the checkpoint. */
  events: number;
  /** Seconds since the oldest of them was recorded; 0 when there is none. */
  oldestAgeSeconds: number;
}

/**
 * Registers a relay's lag: `patchbay.relay.lag` (gauge, `{event}`) and
 * `patchbay.relay.oldest_unrelayed.age` (gauge, `s`), both with `patchbay.relay.name` (the
 * checkpoint name). `probe` runs at each collection; when it throws, nothing is reported for that
 * collection. Returns the function that unregisters it.
 */
export function observeRelayLag(relayName: string, probe: () => Promise<RelayLag> | RelayLag): () => void {
  const i = instruments();
  const attributes: Attributes = { [METRIC_ATTR.relayName]: relayName };
  // One probe per collection serves both gauges.
  const callback = async (r: BatchObservableResult): Promise<void> => {
    let lag: RelayLag;
    try {
      lag = await probe();
    } catch {
      return;
    }
    r.observe(i.relayLag, lag.events, attributes);
    r.observe(i.relayLagAge, lag.oldestAgeSeconds, attributes);
  };
  i.meter.addBatchObservableCallback(callback, [i.relayLag, i.relayLagAge]);
  return () => i.meter.removeBatchObservableCallback(callback, [i.relayLag, i.relayLagAge]);
}

/** One durable consumer's backlog as JetStream reports it. */
export interface ConsumerLag {
  durable: string;
  numPending: number;
  numAckPending: number;
}

/**
 * Registers consumer lag: `patchbay.consumer.lag` (gauge, `{message}`) = `num_pending +
 * num_ack_pending`, one point per durable (`messaging.consumer.group.name`). `probe` runs at each
 * collection and returns the durables it could ask about. Returns the function that unregisters it.
 */
export function observeConsumerLag(probe: () => Promise<ConsumerLag[]> | ConsumerLag[]): () => void {
  const i = instruments();
  const callback = async (r: ObservableResult): Promise<void> => {
    let lags: ConsumerLag[];
    try {
      lags = await probe();
    } catch {
      return;
    }
    for (const l of lags) r.observe(l.numPending + l.numAckPending, { [METRIC_ATTR.consumer]: l.durable });
  };
  i.consumerLag.addCallback(callback);
  return () => i.consumerLag.removeCallback(callback);
}
