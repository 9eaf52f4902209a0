import { z } from 'zod';

/**
 * A fleet scenario: the packages the local repository offers and how each host behaves.
 * The same definition drives the real lab (Debian hosts, real apt repository) and the simulated
 * fleet (in-process SSH servers), so a test can run unchanged on either.
 */
export const packageSpecSchema = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/),
  /** Version installed at first boot (or absent: not installed). */
  installed: z.string().optional(),
  /** Version published as the update. */
  available: z.string(),
  /** Debian marks security updates by origin/suite (e.g. `bookworm-security`). */
  classification: z.enum(['security', 'regular']).default('regular'),
  severity: z.enum(['critical', 'high', 'medium', 'low']).optional(),
  /** postinst touches /run/reboot-required (and .pkgs). */
  rebootRequired: z.boolean().default(false),
  /** postinst exits non-zero. */
  postinstFails: z.boolean().default(false),
  /** postinst takes this long (a slow configure step, like a real package rebuilding an initramfs). */
  postinstSeconds: z.number().int().min(0).max(600).default(0),
  /** Payload size in MiB (to fill a small disk quota). */
  sizeMb: z.number().nonnegative().default(0),
  /** The update depends on this package at this minimum version (a dependency upgrade). */
  dependsOn: z.object({ name: z.string(), version: z.string() }).optional(),
});
export type PackageSpec = z.infer<typeof packageSpecSchema>;

export const rebootModeSchema = z.enum(['normal', 'slow', 'never', 'new-host-key']);
export type RebootMode = z.infer<typeof rebootModeSchema>;

export const hostBehaviourSchema = z.object({
  rebootMode: rebootModeSchema.default('normal'),
  /** Delay between the old boot ending and sshd answering again. */
  rebootDelayMs: z.number().int().nonnegative().default(1000),
  /** Delay used when rebootMode is `slow`. */
  slowRebootDelayMs: z.number().int().nonnegative().default(15000),
  /** Free space of the root file system in MiB (a small quota makes large packages fail). */
  diskQuotaMb: z.number().int().positive().optional(),
  /** Simulated fleet only: latency added to apt-get operations. */
  aptLatencyMs: z.number().int().nonnegative().default(0),
  /** Simulated fleet only: probability that any one command fails transiently. */
  commandFailureRate: z.number().min(0).max(1).default(0),
});
export type HostBehaviour = z.infer<typeof hostBehaviourSchema>;

/**
 * A per-host override: the same fields without defaults, so a host that overrides only its reboot
 * mode keeps the scenario's other defaults (a `.partial()` of the defaulted schema would fill them in).
 */
export const hostOverrideSchema = z.object({
  rebootMode: rebootModeSchema.optional(),
  rebootDelayMs: z.number().int().nonnegative().optional(),
  slowRebootDelayMs: z.number().int().nonnegative().optional(),
  diskQuotaMb: z.number().int().positive().optional(),
  aptLatencyMs: z.number().int().nonnegative().optional(),
  commandFailureRate: z.number().min(0).max(1).optional(),
});
export type HostOverride = z.infer<typeof hostOverrideSchema>;

export const scenarioSchema = z.object({
  name: z.string(),
  /** The per-host application (a small HTTP service run as a service). */
  app: z.object({ service: z.string().default('patchbay-demo-app'), port: z.number().int().default(8080) }).default({ service: 'patchbay-demo-app', port: 8080 }),
  packages: z.array(packageSpecSchema),
  defaults: hostBehaviourSchema.default(hostBehaviourSchema.parse({})),
  /** Per-host overrides by 0-based host index. */
  hosts: z.record(z.string(), hostOverrideSchema).default({}),
});
export type Scenario = z.infer<typeof scenarioSchema>;

/** Behaviour of host `index` after applying its overrides. */
export function hostBehaviour(scenario: Scenario, index: number): HostBehaviour {
  const override = scenario.hosts[String(index)] ?? {};
  const given = Object.fromEntries(Object.entries(override).filter(([, v]) => v !== undefined));
  return { ...scenario.defaults, ...given };
}

/**
 * The default scenario: three small updates (one security update that requests a reboot, one
 * regular, one security with a dependency upgrade), as the design's reference workflow assumes.
 */
export const DEFAULT_SCENARIO: Scenario = scenarioSchema.parse({
  name: 'default',
  packages: [
    { name: 'pb-openssl-demo', installed: '1.0.0-1', available: '1.0.1-1', classification: 'security', severity: 'high', rebootRequired: true },
    { name: 'pb-tools', installed: '2.3.0-1', available: '2.4.0-1', classification: 'regular' },
    { name: 'pb-libfoo', installed: '1.0-1', available: '1.1-1', classification: 'security', severity: 'medium' },
    { name: 'pb-webapp', installed: '3.0-1', available: '3.1-1', classification: 'regular', dependsOn: { name: 'pb-libfoo', version: '1.1-1' } },
  ],
});

/** Faulty packages available on demand to script failure outcomes. */
export const FAULT_PACKAGES: PackageSpec[] = [
  packageSpecSchema.parse({ name: 'pb-broken-postinst', installed: '1.0-1', available: '1.1-1', postinstFails: true }),
  packageSpecSchema.parse({ name: 'pb-bigdata', installed: '1.0-1', available: '2.0-1', sizeMb: 64 }),
];
