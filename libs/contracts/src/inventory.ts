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
export const labelKeySchema = z.string().regex(/^[A-Za-z0-9]([A-Za-z0-9_.\/-]{0,62}[A-Za-z0-9])?$/, 'label key: letters, digits, _ . / - (max 64)');
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
