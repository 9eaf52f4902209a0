import { MetricReader, DataPointType, type MetricData } from '@opentelemetry/sdk-metrics';
import type { Attributes } from '@opentelemetry/api';

/** One data point of a collected metric, flattened for assertions. */
export interface CollectedPoint {
  attributes: Attributes;
  /** Counter/gauge value, or a histogram's sum. */
  value: number;
  /** Histogram only. */
  count?: number;
  /** Histogram only: bucket boundaries. */
  boundaries?: number[];
}

/**
 * A pull reader kept in memory: pass it to `startTelemetry({ metricReaders: [reader] })` (or a
 * `MeterProvider`) and call `points(name)` to collect now. Observable gauges run their callbacks
 * at each collection, as with a real exporter.
 */
export class CollectingMetricReader extends MetricReader {
  /** Every metric of one collection. */
  async collectAll(): Promise<MetricData[]> {
    const { resourceMetrics } = await this.collect();
    return resourceMetrics.scopeMetrics.flatMap((s) => s.metrics);
  }

  /** Collects now and returns the points of metric `name` (empty when it has none). */
  async points(name: string): Promise<CollectedPoint[]> {
    const metric = (await this.collectAll()).find((m) => m.descriptor.name === name);
    if (!metric) return [];
    return metric.dataPoints.map((p) => {
      if (metric.dataPointType === DataPointType.HISTOGRAM) {
        const v = p.value as { sum?: number; count: number; buckets: { boundaries: number[] } };
        return { attributes: p.attributes, value: v.sum ?? 0, count: v.count, boundaries: v.buckets.boundaries };
      }
      return { attributes: p.attributes, value: p.value as number };
    });
  }

  /** The unit a metric was created with, from one collection. */
  async unit(name: string): Promise<string | undefined> {
    return (await this.collectAll()).find((m) => m.descriptor.name === name)?.descriptor.unit;
  }

  protected override onForceFlush(): Promise<void> {
    return Promise.resolve();
  }

  protected override onShutdown(): Promise<void> {
    return Promise.resolve();
  }
}
