import { createServer, type Server } from 'node:http';
import { freePort } from './free-port.js';

type OtlpValue = { stringValue?: string; intValue?: string | number; doubleValue?: number; boolValue?: boolean };
interface OtlpAttribute {
  key: string;
  value: OtlpValue;
}
interface OtlpPoint {
  attributes?: OtlpAttribute[];
  asInt?: string | number;
  asDouble?: number;
  sum?: number;
  count?: string | number;
}
interface OtlpSpanWire {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: number;
  attributes?: OtlpAttribute[];
}

/** One exported span, with the process (`service.name`) that sent it. */
export interface ReceivedSpan {
  service: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind?: number;
  attributes: Record<string, string>;
}

/** One exported metric point, flattened: which process, which metric, which value. */
export interface ReceivedPoint {
  service: string;
  scope: string;
  name: string;
  unit: string;
  /** The gauge/sum value; for a histogram, its sum. */
  value: number;
  attributes: Record<string, string>;
}

export interface OtlpReceiver {
  readonly port: number;
  /** `http://127.0.0.1:<port>`: the value for OTEL_EXPORTER_OTLP_ENDPOINT (with protocol http/json). */
  readonly endpoint: string;
  readonly spans: ReceivedSpan[];
  readonly points: ReceivedPoint[];
  /** Paths requests arrived on (`/v1/traces`, `/v1/metrics`, `/v1/logs`). */
  readonly paths: Set<string>;
  readonly server: Server;
  close(): Promise<void>;
}

const attrs = (list: OtlpAttribute[] | undefined): Record<string, string> => Object.fromEntries((list ?? []).map((a) => [a.key, String(a.value.stringValue ?? a.value.intValue ?? a.value.doubleValue ?? a.value.boolValue)]));

/**
 * A minimal OTLP/HTTP JSON collector on a free port: what a real collector would receive from the
 * processes under test (spans and metrics), kept in memory for assertions.
 */
export async function startOtlpReceiver(): Promise<OtlpReceiver> {
  const spans: ReceivedSpan[] = [];
  const points: ReceivedPoint[] = [];
  const paths = new Set<string>();
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      paths.add(req.url ?? '');
      try {
        if (req.url === '/v1/traces') {
          const doc = JSON.parse(body) as { resourceSpans?: Array<{ resource: { attributes: OtlpAttribute[] }; scopeSpans: Array<{ spans: OtlpSpanWire[] }> }> };
          for (const rs of doc.resourceSpans ?? []) {
            const service = attrs(rs.resource.attributes)['service.name'] ?? '';
            for (const ss of rs.scopeSpans) for (const s of ss.spans) spans.push({ service, traceId: s.traceId, spanId: s.spanId, ...(s.parentSpanId ? { parentSpanId: s.parentSpanId } : {}), name: s.name, ...(s.kind !== undefined ? { kind: s.kind } : {}), attributes: attrs(s.attributes) });
          }
        } else if (req.url === '/v1/metrics') {
          type Metric = { name: string; unit?: string; gauge?: { dataPoints: OtlpPoint[] }; sum?: { dataPoints: OtlpPoint[] }; histogram?: { dataPoints: OtlpPoint[] } };
          const doc = JSON.parse(body) as { resourceMetrics?: Array<{ resource: { attributes: OtlpAttribute[] }; scopeMetrics: Array<{ scope: { name: string }; metrics: Metric[] }> }> };
          for (const rm of doc.resourceMetrics ?? []) {
            const service = attrs(rm.resource.attributes)['service.name'] ?? '';
            for (const sm of rm.scopeMetrics)
              for (const m of sm.metrics)
                for (const p of (m.gauge ?? m.sum ?? m.histogram)?.dataPoints ?? [])
                  points.push({ service, scope: sm.scope?.name ?? '', name: m.name, unit: m.unit ?? '', value: Number(p.asInt ?? p.asDouble ?? p.sum ?? NaN), attributes: attrs(p.attributes) });
          }
        }
        res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"code":"BAD_OTLP_JSON"}');
      }
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return {
    port,
    endpoint: `http://127.0.0.1:${port}`,
    spans,
    points,
    paths,
    server,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}
