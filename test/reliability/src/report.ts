import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

/** One scenario's tally: trials run and every invariant violation found, with the seed to replay it. */
export interface ScenarioReport {
  scenario: string;
  title: string;
  seed: number;
  trials: number;
  violations: string[];
  /** Outcome counts and anything else worth showing (e.g. kill points, codes seen). */
  notes: Record<string, unknown>;
  wallSeconds: number;
  finishedAt: string;
}

/** Repository root: three levels above this package's dist directory. */
export const OUT_DIR = process.env['PATCHBAY_RELIABILITY_OUT'] ?? resolve(__dirname, '../../../bench/out/reliability');

/** `PATCHBAY_RELIABILITY_TRIALS=N` sets the trial count; `PATCHBAY_RELIABILITY_LONG=1` multiplies the bounded default. */
export function trialCount(bounded: number, long: number): number {
  const n = Number(process.env['PATCHBAY_RELIABILITY_TRIALS']);
  if (Number.isInteger(n) && n > 0) return n;
  return process.env['PATCHBAY_RELIABILITY_LONG'] === '1' ? long : bounded;
}

/** The seed: `PATCHBAY_RELIABILITY_SEED` to replay a run, else drawn now (and printed). */
export function seedFor(scenario: string): number {
  const given = Number(process.env['PATCHBAY_RELIABILITY_SEED']);
  const seed = Number.isInteger(given) && given > 0 ? given : Math.floor(Math.random() * 2 ** 31) + 1;
  process.stdout.write(`[reliability] ${scenario}: seed ${seed} (replay with PATCHBAY_RELIABILITY_SEED=${seed})\n`);
  return seed;
}

/** mulberry32: a small seeded PRNG, so a failing trial can be replayed from its seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class ScenarioTally {
  readonly violations: string[] = [];
  readonly notes: Record<string, unknown> = {};
  trials = 0;
  private readonly t0 = Date.now();

  constructor(
    readonly scenario: string,
    readonly title: string,
    readonly seed: number,
  ) {}

  violation(trial: string, what: string): void {
    this.violations.push(`${trial}: ${what}`);
  }

  count(key: string, by = 1): void {
    this.notes[key] = ((this.notes[key] as number | undefined) ?? 0) + by;
  }

  /** Runs the scenario's trials; an exception is recorded as a violation (the scenario could not finish) and the report is written either way. */
  async run(body: () => Promise<void>): Promise<this> {
    try {
      await body();
    } catch (e) {
      this.violation('aborted', (e as Error).stack ?? String(e));
    } finally {
      this.write();
    }
    return this;
  }

  /** Writes this scenario's JSON and rewrites the combined report (JSON + text table); prints the table. */
  write(): ScenarioReport {
    const r: ScenarioReport = {
      scenario: this.scenario,
      title: this.title,
      seed: this.seed,
      trials: this.trials,
      violations: this.violations,
      notes: this.notes,
      wallSeconds: Math.round((Date.now() - this.t0) / 100) / 10,
      finishedAt: new Date().toISOString(),
    };
    mkdirSync(join(OUT_DIR, 'scenarios'), { recursive: true });
    writeFileSync(join(OUT_DIR, 'scenarios', `${this.scenario}.json`), JSON.stringify(r, null, 2));
    const text = writeCombined();
    process.stdout.write(`${text}\n`);
    return r;
  }
}

/** Combines every scenario file into report.json and report.txt. */
export function writeCombined(): string {
  const dir = join(OUT_DIR, 'scenarios');
  const all: ScenarioReport[] = existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.json'))
        .sort()
        .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as ScenarioReport)
    : [];
  writeFileSync(join(OUT_DIR, 'report.json'), JSON.stringify({ generatedAt: new Date().toISOString(), scenarios: all }, null, 2));
  const rows = all.map((s) => [s.scenario, String(s.trials), String(s.violations.length), String(s.seed), `${s.wallSeconds}s`, s.finishedAt.slice(0, 19)]);
  const head = ['scenario', 'trials', 'violations', 'seed', 'wall', 'finished (UTC)'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const fmt = (r: string[]) => r.map((c, i) => c.padEnd(widths[i]!)).join('  ');
  const lines = ['reliability suite', fmt(head), fmt(widths.map((w) => '-'.repeat(w))), ...rows.map(fmt)];
  for (const s of all) for (const v of s.violations.slice(0, 20)) lines.push(`  ${s.scenario}: ${v}`);
  const text = lines.join('\n');
  writeFileSync(join(OUT_DIR, 'report.txt'), `${text}\n`);
  return text;
}
