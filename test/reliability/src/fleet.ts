import { bundleYaml, DEFAULT_SCENARIO, labInventoryIni, labPolicyYaml, labWorkflowYaml, SimulatedFleet, type ClientKey, type HostOverride, type SimulatedEndpoint } from '@patchbay/fleet-lab';

export const APP = DEFAULT_SCENARIO.app;

/**
 * A simulated fleet for one trial, whose endpoints keep a log of every command line they were
 * sent (the effects on the hosts, counted independently of what the store says).
 */
export class TrialFleet {
  /** Command lines received, per endpoint id. */
  readonly commands = new Map<string, string[]>();
  /** The boot id each of those lines arrived in (same index). */
  readonly boots = new Map<string, string[]>();

  private constructor(
    readonly fleet: SimulatedFleet,
    readonly label: string,
  ) {
    for (const ep of fleet.endpoints) {
      const log: string[] = [];
      const boots: string[] = [];
      this.commands.set(this.idOf(ep), log);
      this.boots.set(this.idOf(ep), boots);
      const machine = ep.machine;
      const run = machine.run.bind(machine);
      machine.run = (line, ctx) => {
        log.push(line);
        boots.push(machine.bootId);
        return run(line, ctx);
      };
    }
  }

  static async start(opts: {
    label: string;
    endpoints: number;
    key: ClientKey;
    basePort: number;
    hosts?: Record<string, HostOverride>;
    seed?: number;
    aptLatencyMs?: number;
    commandLatencyMs?: number;
  }): Promise<TrialFleet> {
    const scenario = {
      ...DEFAULT_SCENARIO,
      defaults: { ...DEFAULT_SCENARIO.defaults, rebootDelayMs: 300, slowRebootDelayMs: 3000, aptLatencyMs: opts.aptLatencyMs ?? 40 },
      hosts: opts.hosts ?? {},
    };
    const fleet = await SimulatedFleet.start({
      endpoints: opts.endpoints,
      scenario,
      clientPublicKey: opts.key.public,
      basePort: opts.basePort,
      seed: opts.seed ?? 1,
      commandLatencyMs: opts.commandLatencyMs ?? 0,
    });
    return new TrialFleet(fleet, opts.label);
  }

  /** Endpoint id in the inventory: the trial label keeps trials apart in one store. */
  idOf(ep: SimulatedEndpoint): string {
    return `${this.label}-${ep.id}`;
  }

  endpoint(id: string): SimulatedEndpoint | undefined {
    return this.fleet.endpoints.find((e) => this.idOf(e) === id);
  }

  /** Lines received by an endpoint that contain every one of `parts`. */
  count(id: string, ...parts: string[]): number {
    return (this.commands.get(id) ?? []).filter((l) => parts.every((p) => l.includes(p))).length;
  }

  /** Command lines an endpoint received during one boot. */
  commandsInBoot(id: string, bootId: string): string[] {
    const boots = this.boots.get(id) ?? [];
    return (this.commands.get(id) ?? []).filter((_, i) => boots[i] === bootId);
  }

  /** Simulates a network drop: connections cut, new ones refused, until {@link restoreNetwork}. */
  cutNetwork(id: string): void {
    const ep = this.endpoint(id)!;
    ep.phase = 'down';
    for (const s of ep.sockets) s.destroy();
    ep.sockets.clear();
  }

  restoreNetwork(id: string): void {
    this.endpoint(id)!.phase = 'up';
  }

  inventoryIni(keyPath: string): string {
    return labInventoryIni(
      this.label,
      this.fleet.endpoints.map((ep) => ({ name: this.idOf(ep), host: ep.host, port: ep.port })),
      { vars: { trial: this.label }, keyPath },
    );
  }

  async stop(): Promise<void> {
    await this.fleet.stop();
  }
}

/**
 * The workflow every trial runs: check disk, stop the app, a marker command (a non-idempotent
 * side effect would be seen twice), patch, reboot if required, start the app, validate, a second
 * marker. The markers are `echo` lines the simulated endpoint records.
 */
export const WORKFLOW_ID = 'rel-wf';

export const WORKFLOW = labWorkflowYaml({ id: WORKFLOW_ID, name: 'Reliability workflow', app: APP, patchTimeoutSeconds: 120, rebootReturnSeconds: 30, rebootTimeoutSeconds: 40, markers: true });

/** A group and an auto-approved policy selecting only this trial's endpoints. */
export function trialBundle(label: string, endpoints: number, concurrency = 4): string {
  return bundleYaml(WORKFLOW, labPolicyYaml({ groupId: `g-${label}`, groupName: `Trial ${label}`, selector: `trial=${label}`, policyId: `p-${label}`, workflowId: WORKFLOW_ID, maxConcurrency: concurrency, errorThreshold: endpoints + 1 }));
}
