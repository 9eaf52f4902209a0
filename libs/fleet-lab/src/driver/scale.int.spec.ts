import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_SCENARIO, scenarioSchema } from '../scenario.js';
import { openFileLimit, SimulatedFleet } from '../sim/fleet.js';
import { runReferenceWorkflow } from './workflow.js';
import { generateSshKeyPair } from '../sim/host-keys.js';

// Figures are printed, never asserted: timing depends on the machine. Every line says the fleet
// was simulated.
const mib = (b: number): string => `${(b / 1048576).toFixed(0)} MiB`;
const key = generateSshKeyPair();

describe('ssh2 driver at scale on a simulated fleet (int)', () => {
  it('runs the reference workflow on 1,000 simulated endpoints, every one reaching the final state', async () => {
    const scenario = scenarioSchema.parse({ ...DEFAULT_SCENARIO, defaults: { aptLatencyMs: 50, rebootDelayMs: 300 } });
    const fleet = await SimulatedFleet.start({ endpoints: 1000, scenario, clientPublicKey: key.public, basePort: 21_000 + Math.floor(Math.random() * 8_000) });
    try {
      const report = await runReferenceWorkflow(fleet.targets(), {
        username: 'root',
        privateKey: key.private,
        concurrency: 200,
        app: scenario.app,
        rebootTimeoutMs: 30_000,
      });
      console.log(
        `[simulated fleet] 1,000 endpoints, driver concurrency 200, fleet and driver in one process: wall ${(report.wallMs / 1000).toFixed(2)} s, ` +
          `CPU ${((report.cpu.userMs + report.cpu.systemMs) / 1000).toFixed(2)} s (driver + fleet), RSS ${mib(process.memoryUsage().rss)}, ` +
          `${fleet.counters.connectionsAccepted} connections, ${fleet.counters.commandsServed} commands`,
      );
      assert.deepEqual(report.counts, { 'ok-rebooted': 1000 });
      for (const ep of fleet.endpoints) {
        const m = ep.machine;
        for (const p of scenario.packages) assert.equal(m.installed.get(p.name), p.available, ep.id);
        assert.equal(m.services.get(scenario.app.service), 'active', ep.id);
        assert.equal(m.bootHistory.length, 2, `${ep.id} rebooted exactly once`);
        assert.equal(m.rebootRequestsByBootId.get(m.bootHistory[0]!), 1, ep.id);
        assert.equal(ep.phase, 'up', ep.id);
      }
      assert.equal(fleet.counters.reboots, 1000);
    } finally {
      await fleet.stop();
    }
  });

  it('starts 10,000 simulated endpoints and reports startup time and memory', async (t) => {
    const limit = openFileLimit();
    if (limit !== undefined && limit < 11_100) {
      t.skip(`ulimit -n is ${limit}; 10,000 simulated endpoints need about 11,100`);
      return;
    }
    const rss0 = process.memoryUsage().rss;
    const t0 = performance.now();
    // Below 32768 so no listener sits in Linux's ephemeral port range.
    const fleet = await SimulatedFleet.start({
      endpoints: 10_000,
      scenario: DEFAULT_SCENARIO,
      clientPublicKey: key.public,
      basePort: 20_000 + Math.floor(Math.random() * 2_500),
    });
    try {
      const ms = performance.now() - t0;
      console.log(
        `[simulated fleet] 10,000 endpoints started in ${(ms / 1000).toFixed(2)} s; RSS ${mib(process.memoryUsage().rss)} (+${mib(process.memoryUsage().rss - rss0)} for the fleet)`,
      );
      assert.equal(new Set(fleet.endpoints.map((e) => e.port)).size, 10_000);
    } finally {
      await fleet.stop();
    }
  });
});
