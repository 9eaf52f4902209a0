#!/usr/bin/env node
// Container health check for every Patchbay process kind. Exits 0 when healthy, 1 when not,
// 2 on bad usage; prints one JSON line saying why.
//
//   node deploy/healthcheck.mjs service <inventory|policy|planner|executor> [--require-ok]
//       Sends the `system.health` command over NATS (NATS_URL) and waits for the reply.
//       Healthy when the service answers; with --require-ok only when it answers `ok` (a
//       `degraded` reply means one of its checks failed, e.g. the event store is unreachable).
//       The command goes to the service's queue group, so with several replicas any one of them
//       may answer: this proves the service is reachable through the bus, not that this very
//       replica is.
//   node deploy/healthcheck.mjs relay
//       Healthy when NATS answers and the PATCHBAY_EVENTS stream the relay feeds exists.
//   node deploy/healthcheck.mjs gateway [--require-ok]
//       POSTs the `health` query to http://127.0.0.1:$GATEWAY_PORT/graphql (this replica).
//       Healthy when it answers the query; with --require-ok only when every service is `ok`.
//
// Plain JavaScript on purpose: it runs in the image next to the built packages with no build step.
import { connect, StringCodec } from 'nats';

const TIMEOUT_MS = Number(process.env.HEALTHCHECK_TIMEOUT_MS || 5000);
const SERVICES = ['inventory', 'policy', 'planner', 'executor'];
const EVENTS_STREAM = 'PATCHBAY_EVENTS';
const sc = StringCodec();

function report(ok, fields) {
  process.stdout.write(`${JSON.stringify({ healthy: ok, ...fields })}\n`);
  process.exit(ok ? 0 : 1);
}

function usage(message) {
  process.stderr.write(`${message}\nusage: healthcheck.mjs service <${SERVICES.join('|')}> [--require-ok] | relay | gateway [--require-ok]\n`);
  process.exit(2);
}

function natsServers() {
  const url = process.env.NATS_URL;
  if (!url) usage('NATS_URL is not set');
  return url
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

async function connectNats() {
  return connect({ servers: natsServers(), name: 'patchbay-healthcheck', timeout: TIMEOUT_MS, maxReconnectAttempts: 0 });
}

async function checkService(service, requireOk) {
  if (!SERVICES.includes(service)) usage(`unknown service ${JSON.stringify(service)}`);
  const subject = `patchbay.cmd.${service}.system.health`;
  let nc;
  try {
    nc = await connectNats();
    const envelope = { commandId: `healthcheck-${process.pid}-${Date.now()}`, actor: 'healthcheck', payload: {} };
    const msg = await nc.request(subject, sc.encode(JSON.stringify(envelope)), { timeout: TIMEOUT_MS });
    const reply = JSON.parse(sc.decode(msg.data));
    if (!reply || reply.ok !== true) return report(false, { service, reason: 'error reply', error: reply && reply.error });
    const status = reply.result && reply.result.status;
    return report(requireOk ? status === 'ok' : status === 'ok' || status === 'degraded', { service, status, checks: reply.result && reply.result.checks });
  } catch (err) {
    return report(false, { service, reason: err && err.code ? String(err.code) : 'error', message: String(err && err.message) });
  } finally {
    if (nc) await nc.close().catch(() => undefined);
  }
}

async function checkRelay() {
  let nc;
  try {
    nc = await connectNats();
    const jsm = await nc.jetstreamManager({ timeout: TIMEOUT_MS });
    const info = await jsm.streams.info(EVENTS_STREAM);
    return report(true, { process: 'relay', stream: EVENTS_STREAM, messages: info.state.messages, lastSeq: info.state.last_seq });
  } catch (err) {
    return report(false, { process: 'relay', stream: EVENTS_STREAM, message: String(err && err.message) });
  } finally {
    if (nc) await nc.close().catch(() => undefined);
  }
}

async function checkGateway(requireOk) {
  const port = process.env.GATEWAY_PORT || '4000';
  const url = `http://127.0.0.1:${port}/graphql`;
  try {
    const res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ health { status services { service status error } } }' }),
      signal: AbortSignal.timeout(TIMEOUT_MS),
    });
    const body = await res.json();
    const health = body && body.data && body.data.health;
    if (!res.ok || !health) return report(false, { process: 'gateway', httpStatus: res.status, errors: body && body.errors });
    return report(requireOk ? health.status === 'ok' : true, { process: 'gateway', status: health.status, services: health.services });
  } catch (err) {
    return report(false, { process: 'gateway', url, message: String(err && err.message) });
  }
}

const [kind, arg, ...rest] = process.argv.slice(2);
const flags = new Set([arg, ...rest].filter((a) => a && a.startsWith('--')));
const requireOk = flags.has('--require-ok');
if (kind === 'service') checkService(arg, requireOk);
else if (kind === 'relay') checkRelay();
else if (kind === 'gateway') checkGateway(requireOk);
else usage(`unknown kind ${JSON.stringify(kind)}`);
