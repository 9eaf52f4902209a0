import { readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { scenarioSchema, type Scenario } from '../scenario.js';
import { SimulatedFleetConfigError } from './errors.js';

/** Loads a scenario from a YAML or JSON file and validates it against the shared schema. */
export function readScenarioFile(path: string): Scenario {
  let raw: unknown;
  try {
    raw = parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new SimulatedFleetConfigError(`cannot read scenario ${path}: ${(e as Error).message}`, { path });
  }
  const r = scenarioSchema.safeParse(raw);
  if (!r.success) throw new SimulatedFleetConfigError(`invalid scenario ${path}: ${r.error.message}`, { path });
  return r.data;
}

/** Command-line overrides of a scenario's default host behaviour. */
export interface BehaviourOverrides {
  aptLatencyMs?: number;
  rebootDelayMs?: number;
  commandFailureRate?: number;
}

/** The scenario with its default behaviour overridden (per-host overrides still win). */
export function withBehaviourOverrides(scenario: Scenario, o: BehaviourOverrides): Scenario {
  const defaults = { ...scenario.defaults };
  if (o.aptLatencyMs !== undefined) defaults.aptLatencyMs = o.aptLatencyMs;
  if (o.rebootDelayMs !== undefined) defaults.rebootDelayMs = o.rebootDelayMs;
  if (o.commandFailureRate !== undefined) defaults.commandFailureRate = o.commandFailureRate;
  const r = scenarioSchema.safeParse({ ...scenario, defaults });
  if (!r.success) throw new SimulatedFleetConfigError(`invalid behaviour override: ${r.error.message}`);
  return r.data;
}
