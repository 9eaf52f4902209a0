import { z } from 'zod';
import { defineEvent } from './event.js';

/**
 * Inventory contracts: endpoints (the servers Patchbay patches), their labels, SSH identity,
 * pinned host keys and gathered facts. Stream: `endpoint-<id>` (see stream-names.ts).
 */

/** Endpoint ids are stable, URL- and subject-safe names (usually the inventory host name). */
export const endpointIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$/, 'endpoint id: letters, digits, _ . - (max 200), starting with a letter or digit');
export type EndpointId = z.infer<typeof endpointIdSchema>;

/** Label keys and values as Kubernetes-style selectors expect them. */
export const labelKeySchema = z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9_./-]{0,62}[A-Za-z0-9])?$/, 'label key: letters, digits, _ . / - (max 64)');
export const labelValueSchema = z.string().regex(/^([A-Za-z0-9]([A-Za-z0-9_.-]{0,62}[A-Za-z0-9])?)?$/, 'label value: letters, digits, _ . - (max 64)');
export const labelsSchema = z.record(labelKeySchema, labelValueSchema);
export type Labels = z.infer<typeof labelsSchema>;

/**
 * How to reach an endpoint over SSH. `keyRef` names a key held by the controller's secret store
 * (e.g. `file:/etc/patchbay/keys/web` or `env:PATCHBAY_KEY_WEB`), never the key itself: secrets are
 * not stored in events or logs.
 */
export const sshIdentitySchema = z.object({
  host: z.string().min(1).max(253).regex(/^[A-Za-z0-9.:_-]+$/, 'host: a name or an address'),
  port: z.number().int().min(1).max(65535).default(22),
  user: z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'user: a POSIX user name'),
  keyRef: z.string().min(1).max(500).optional(),
  /** Run privileged commands through `sudo -n`. */
  sudo: z.boolean().default(false),
});
export type SshIdentity = z.infer<typeof sshIdentitySchema>;

export const EndpointRegistered = defineEvent(
  'EndpointRegistered',
  1,
  z.object({
    endpointId: endpointIdSchema,
    labels: labelsSchema,
    ssh: sshIdentitySchema,
    /** Where the registration came from (`manual`, `ansible-ini:<file>`, `csv:<file>` …). */
    source: z.string().max(500),
    /** Host-key trust for this endpoint; absent means the inventory service's setting applies. */
    hostKeyPolicy: z.enum(['tofu', 'explicit']).optional(),
  }),
);

export const EndpointLabelsChanged = defineEvent(
  'EndpointLabelsChanged',
  1,
  z.object({ endpointId: endpointIdSchema, labels: labelsSchema, previous: labelsSchema }),
);

export const EndpointSshIdentityChanged = defineEvent(
  'EndpointSshIdentityChanged',
  1,
  z.object({ endpointId: endpointIdSchema, ssh: sshIdentitySchema }),
);

export const EndpointRetired = defineEvent('EndpointRetired', 1, z.object({ endpointId: endpointIdSchema, reason: z.string().max(1000) }));

/** Events of the `endpoint-<id>` streams that other services consume (extended by the inventory service). */
export const ENDPOINT_LIFECYCLE_EVENTS = [EndpointRegistered, EndpointLabelsChanged, EndpointSshIdentityChanged, EndpointRetired] as const;

/** A key reference: `file:<path>` or `env:<VARIABLE>`; the key itself never enters an event or a log. */
export const keyRefSchema = z
  .string()
  .max(500)
  .regex(/^(file:\/?[^\s\0]+|env:[A-Za-z_][A-Za-z0-9_]*)$/, 'key reference: file:<path> or env:<VARIABLE>');

/** How the first host key of an endpoint is trusted: on first use (`tofu`) or only by an operator (`explicit`). */
export const hostKeyPolicySchema = z.enum(['tofu', 'explicit']);
export type HostKeyPolicy = z.infer<typeof hostKeyPolicySchema>;

/** An SSH host key as presented: algorithm and OpenSSH SHA-256 fingerprint (`SHA256:<base64>`). */
export const hostKeySchema = z.object({
  algorithm: z.string().min(1).max(100),
  fingerprint: z.string().regex(/^SHA256:[A-Za-z0-9+/]{43}=?$/, 'fingerprint: SHA256:<base64>'),
});
export type HostKey = z.infer<typeof hostKeySchema>;

/** A host key became trusted. `decidedBy` says who: trust on first use, or an operator's command. */
export const HostKeyPinned = defineEvent(
  'HostKeyPinned',
  1,
  z.object({
    endpointId: endpointIdSchema,
    key: hostKeySchema,
    decidedBy: z.enum(['tofu', 'operator']),
    /** Why: the policy that allowed it, or the operator's reason. */
    reason: z.string().max(1000),
    /** The key this one replaces (after a mismatch an operator accepted), if any. */
    replaces: hostKeySchema.optional(),
  }),
);

/** First contact with an endpoint whose policy does not trust on first use: an operator must accept the key. */
export const HostKeyPending = defineEvent('HostKeyPending', 1, z.object({ endpointId: endpointIdSchema, key: hostKeySchema }));

/** The endpoint presented a key other than the pinned one; the connection was not used. */
export const HostKeyMismatchDetected = defineEvent(
  'HostKeyMismatchDetected',
  1,
  z.object({ endpointId: endpointIdSchema, pinned: hostKeySchema, presented: hostKeySchema }),
);

/** One pending update of a package. */
export const pendingUpdateSchema = z.object({
  name: z.string().min(1).max(300),
  /** Installed version, when the package manager says. */
  from: z.string().max(200).optional(),
  to: z.string().min(1).max(200),
  arch: z.string().max(50).optional(),
  /** Suite, repository or advisory the update comes from. */
  origin: z.string().max(300).optional(),
  security: z.boolean(),
  /** Severity as the OS says it (`important`, `Moderate` …); absent where the OS does not classify. */
  severity: z.string().max(50).optional(),
  advisory: z.string().max(200).optional(),
});
export type PendingUpdate = z.infer<typeof pendingUpdateSchema>;

export const packageManagerSchema = z.enum(['apt', 'dnf', 'yum', 'zypper', 'unknown']);
export type PackageManagerName = z.infer<typeof packageManagerSchema>;

/** What a fact source could not parse: recorded, never thrown through. */
export const factProblemSchema = z.object({ source: z.string().max(100), code: z.string().max(100), message: z.string().max(1000) });

export const endpointFactsSchema = z.object({
  os: z.object({ id: z.string().max(100), versionId: z.string().max(100).optional(), name: z.string().max(200).optional(), prettyName: z.string().max(300).optional(), idLike: z.array(z.string().max(100)).max(20) }),
  packageManager: packageManagerSchema,
  updates: z.array(pendingUpdateSchema).max(20_000),
  /** Updates could not be listed (see `problems`): `updates` is then not a complete list. */
  updatesKnown: z.boolean(),
  rebootRequired: z.boolean(),
  disks: z.array(z.object({ mount: z.string().max(1000), filesystem: z.string().max(100), sizeBytes: z.number().nonnegative(), freeBytes: z.number().nonnegative() })).max(500),
  bootId: z.string().max(100).optional(),
  uptimeSeconds: z.number().nonnegative().optional(),
  /** Running services (systemd units), or running process names where there is no systemd. */
  services: z.object({ source: z.enum(['systemd', 'processes', 'unknown']), names: z.array(z.string().max(300)).max(5000) }),
  problems: z.array(factProblemSchema).max(100),
});
export type EndpointFacts = z.infer<typeof endpointFactsSchema>;

export const FactsGathered = defineEvent('FactsGathered', 1, z.object({ endpointId: endpointIdSchema, gatheredAt: z.string().datetime({ offset: true }), facts: endpointFactsSchema }));

/** Facts could not be gathered (unreachable, refused host key, command failed); `code` is a stable error code. */
export const FactsGatheringFailed = defineEvent(
  'FactsGatheringFailed',
  1,
  z.object({ endpointId: endpointIdSchema, at: z.string().datetime({ offset: true }), code: z.string().max(100), message: z.string().max(2000) }),
);

/** Every event type of the `endpoint-<id>` streams. */
export const ENDPOINT_EVENTS = [...ENDPOINT_LIFECYCLE_EVENTS, HostKeyPinned, HostKeyPending, HostKeyMismatchDetected, FactsGathered, FactsGatheringFailed] as const;

/** SSH identity as commands accept it: the key only by reference (`file:` / `env:`). */
export const sshIdentityInputSchema = sshIdentitySchema.extend({ keyRef: keyRefSchema.optional() });

/** Command names of the inventory service: subject `patchbay.cmd.inventory.<name>`. */
export const INVENTORY_COMMANDS = {
  register: 'register',
  updateLabels: 'update-labels',
  setSshIdentity: 'set-ssh-identity',
  retire: 'retire',
  import: 'import',
  acceptHostKey: 'accept-host-key',
  gatherFacts: 'gather-facts',
  verifyHostKey: 'verify-host-key',
  get: 'get',
  list: 'list',
} as const;

export const registerEndpointCommandSchema = z.object({
  endpointId: endpointIdSchema,
  labels: labelsSchema.default({}),
  ssh: sshIdentityInputSchema,
  source: z.string().max(500).default('manual'),
  hostKeyPolicy: hostKeyPolicySchema.optional(),
}).strict();

export const updateLabelsCommandSchema = z.object({
  endpointId: endpointIdSchema,
  /** Labels to add or overwrite. */
  set: labelsSchema.default({}),
  /** Label keys to remove. */
  remove: z.array(labelKeySchema).max(1000).default([]),
}).strict();

export const setSshIdentityCommandSchema = z.object({ endpointId: endpointIdSchema, ssh: sshIdentityInputSchema }).strict();
export const retireEndpointCommandSchema = z.object({ endpointId: endpointIdSchema, reason: z.string().min(1).max(1000) }).strict();

export const inventoryFormatSchema = z.enum(['ansible-ini', 'ansible-yaml', 'csv']);
export type InventoryFormat = z.infer<typeof inventoryFormatSchema>;

export const importInventoryCommandSchema = z.object({
  format: inventoryFormatSchema,
  /** Name of the file, used in the registration source and in every error. */
  fileName: z.string().min(1).max(500),
  content: z.string().max(64 * 1024 * 1024),
  /** Retire endpoints registered from this same file that it no longer lists. */
  retireMissing: z.boolean().default(false),
  /** Host-key trust for the endpoints this import registers. */
  hostKeyPolicy: hostKeyPolicySchema.optional(),
  /** Validate and plan only; nothing is stored. */
  dryRun: z.boolean().default(false),
  /** SSH defaults for hosts that do not say (`ansible_user`, port, key). */
  defaults: z.object({ user: z.string().optional(), port: z.number().int().optional(), keyRef: keyRefSchema.optional(), sudo: z.boolean().optional() }).strict().default({}),
}).strict();

export const acceptHostKeyCommandSchema = z.object({
  endpointId: endpointIdSchema,
  /** The fingerprint the operator verified out of band; must equal the pending or presented key. */
  fingerprint: hostKeySchema.shape.fingerprint,
  reason: z.string().min(1).max(1000),
}).strict();

export const gatherFactsCommandSchema = z.object({
  /** Endpoints to gather from; all active endpoints when absent. */
  endpointIds: z.array(endpointIdSchema).max(100_000).optional(),
  /** Refresh package lists first (`apt-get update`, `dnf makecache`, `zypper refresh`). */
  refresh: z.boolean().default(false),
  /** Reply when every endpoint is done (default), or at once and gather in the background (large fleets). */
  wait: z.boolean().default(true),
}).strict();

export const getEndpointCommandSchema = z.object({ endpointId: endpointIdSchema }).strict();
export const listEndpointsCommandSchema = z.object({ includeRetired: z.boolean().default(false) }).strict();

/**
 * Asked by any service about to talk to an endpoint (the executor's host-key verifier): the
 * inventory records first contact or a mismatch and answers `accept` only for the pinned key.
 */
export const verifyHostKeyCommandSchema = z.object({ endpointId: endpointIdSchema, key: hostKeySchema }).strict();
export const verifyHostKeyReplySchema = z.object({ decision: z.enum(['accept', 'reject']) });
