import type { EndpointFacts, EventOf, HostKey, HostKeyPolicy, Labels, SshIdentity } from '@patchbay/contracts';
import {
  EndpointLabelsChanged,
  EndpointRegistered,
  EndpointRetired,
  EndpointSshIdentityChanged,
  FactsGathered,
  FactsGatheringFailed,
  HostKeyMismatchDetected,
  HostKeyPending,
  HostKeyPinned,
} from '@patchbay/contracts';
import { EndpointAlreadyRegisteredError, EndpointNotFoundError, EndpointRetiredError, HostKeyNotPresentedError } from './errors.js';

/** Every event of an `endpoint-<id>` stream. */
export type EndpointEvent =
  | EventOf<typeof EndpointRegistered>
  | EventOf<typeof EndpointLabelsChanged>
  | EventOf<typeof EndpointSshIdentityChanged>
  | EventOf<typeof EndpointRetired>
  | EventOf<typeof HostKeyPinned>
  | EventOf<typeof HostKeyPending>
  | EventOf<typeof HostKeyMismatchDetected>
  | EventOf<typeof FactsGathered>
  | EventOf<typeof FactsGatheringFailed>;

/** The definitions, by type, to validate stored events on read. */
export const ENDPOINT_EVENT_DEFINITIONS = {
  EndpointRegistered,
  EndpointLabelsChanged,
  EndpointSshIdentityChanged,
  EndpointRetired,
  HostKeyPinned,
  HostKeyPending,
  HostKeyMismatchDetected,
  FactsGathered,
  FactsGatheringFailed,
} as const;

export interface EndpointState {
  status: 'unknown' | 'active' | 'retired';
  endpointId?: string;
  labels: Labels;
  ssh?: SshIdentity;
  source?: string;
  hostKeyPolicy?: HostKeyPolicy;
  /** The trusted key; connections presenting anything else are refused. */
  pinnedKey?: HostKey;
  /** Presented on first contact, waiting for an operator. */
  pendingKey?: HostKey;
  /** The last other key presented since the pin (what an operator may accept after a re-install). */
  mismatchedKey?: HostKey;
  facts?: { gatheredAt: string; facts: EndpointFacts };
  lastFailure?: { at: string; code: string; message: string };
}

export type EndpointCommand =
  | { type: 'Register'; endpointId: string; labels: Labels; ssh: SshIdentity; source: string; hostKeyPolicy?: HostKeyPolicy }
  /** What an import wants: register, or change labels/SSH identity to match, or nothing. */
  | { type: 'Upsert'; endpointId: string; labels: Labels; ssh: SshIdentity; source: string; hostKeyPolicy?: HostKeyPolicy }
  | { type: 'UpdateLabels'; endpointId: string; set: Labels; remove: string[] }
  | { type: 'SetSshIdentity'; endpointId: string; ssh: SshIdentity }
  | { type: 'Retire'; endpointId: string; reason: string }
  | { type: 'ObserveHostKey'; endpointId: string; presented: HostKey; defaultPolicy: HostKeyPolicy }
  | { type: 'AcceptHostKey'; endpointId: string; fingerprint: string; reason: string }
  | { type: 'RecordFacts'; endpointId: string; gatheredAt: string; facts: EndpointFacts }
  | { type: 'RecordFactsFailure'; endpointId: string; at: string; code: string; message: string };

/** A fresh endpoint stream. */
export const initialState = (): EndpointState => ({ status: 'unknown', labels: {} });

const sameKey = (a: HostKey | undefined, b: HostKey | undefined): boolean => !!a && !!b && a.fingerprint === b.fingerprint && a.algorithm === b.algorithm;
const sameLabels = (a: Labels, b: Labels): boolean => {
  const ka = Object.keys(a);
  return ka.length === Object.keys(b).length && ka.every((k) => Object.hasOwn(b, k) && b[k] === a[k]);
};
const sameSsh = (a: SshIdentity | undefined, b: SshIdentity): boolean =>
  !!a && a.host === b.host && a.port === b.port && a.user === b.user && (a.keyRef ?? null) === (b.keyRef ?? null) && a.sudo === b.sudo;
const sortedLabels = (l: Labels): Labels => Object.fromEntries(Object.entries(l).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));

function active(state: EndpointState, endpointId: string): void {
  if (state.status === 'unknown') throw new EndpointNotFoundError(endpointId);
  if (state.status === 'retired') throw new EndpointRetiredError(endpointId);
}

/**
 * The endpoint decider: what a command means for one endpoint's stream, given its state. Pure:
 * no clock (times come in the command), no I/O. An empty result means "already so".
 */
export function decide(command: EndpointCommand, state: EndpointState): EndpointEvent[] {
  const endpointId = command.endpointId;
  switch (command.type) {
    case 'Register':
    case 'Upsert': {
      const labels = sortedLabels(command.labels);
      if (state.status !== 'active') {
        const data = { endpointId, labels, ssh: command.ssh, source: command.source, ...(command.hostKeyPolicy ? { hostKeyPolicy: command.hostKeyPolicy } : {}) };
        return [{ type: 'EndpointRegistered', data }];
      }
      const labelsSame = sameLabels(state.labels, labels);
      const sshSame = sameSsh(state.ssh, command.ssh);
      if (command.type === 'Register' && !(labelsSame && sshSame)) throw new EndpointAlreadyRegisteredError(endpointId);
      const events: EndpointEvent[] = [];
      if (!labelsSame) events.push({ type: 'EndpointLabelsChanged', data: { endpointId, labels, previous: state.labels } });
      if (!sshSame) events.push({ type: 'EndpointSshIdentityChanged', data: { endpointId, ssh: command.ssh } });
      return events;
    }
    case 'UpdateLabels': {
      active(state, endpointId);
      const next: Labels = { ...state.labels, ...command.set };
      for (const k of command.remove) delete next[k];
      const labels = sortedLabels(next);
      return sameLabels(labels, state.labels) ? [] : [{ type: 'EndpointLabelsChanged', data: { endpointId, labels, previous: state.labels } }];
    }
    case 'SetSshIdentity':
      active(state, endpointId);
      return sameSsh(state.ssh, command.ssh) ? [] : [{ type: 'EndpointSshIdentityChanged', data: { endpointId, ssh: command.ssh } }];
    case 'Retire':
      if (state.status === 'unknown') throw new EndpointNotFoundError(endpointId);
      return state.status === 'retired' ? [] : [{ type: 'EndpointRetired', data: { endpointId, reason: command.reason } }];
    case 'ObserveHostKey': {
      active(state, endpointId);
      const presented = command.presented;
      if (state.pinnedKey) {
        if (sameKey(state.pinnedKey, presented)) return [];
        // One event per distinct wrong key, so a scheduler retrying every minute does not flood the stream.
        if (sameKey(state.mismatchedKey, presented)) return [];
        return [{ type: 'HostKeyMismatchDetected', data: { endpointId, pinned: state.pinnedKey, presented } }];
      }
      const policy = state.hostKeyPolicy ?? command.defaultPolicy;
      if (policy === 'tofu') return [{ type: 'HostKeyPinned', data: { endpointId, key: presented, decidedBy: 'tofu', reason: 'first contact; host-key policy allows trust on first use' } }];
      if (sameKey(state.pendingKey, presented)) return [];
      return [{ type: 'HostKeyPending', data: { endpointId, key: presented } }];
    }
    case 'AcceptHostKey': {
      active(state, endpointId);
      if (state.pinnedKey?.fingerprint === command.fingerprint) return [];
      const candidate = [state.pendingKey, state.mismatchedKey].find((k) => k?.fingerprint === command.fingerprint);
      if (!candidate) throw new HostKeyNotPresentedError(endpointId, command.fingerprint);
      return [{ type: 'HostKeyPinned', data: { endpointId, key: candidate, decidedBy: 'operator', reason: command.reason, ...(state.pinnedKey ? { replaces: state.pinnedKey } : {}) } }];
    }
    case 'RecordFacts':
      active(state, endpointId);
      return [{ type: 'FactsGathered', data: { endpointId, gatheredAt: command.gatheredAt, facts: command.facts } }];
    case 'RecordFactsFailure':
      active(state, endpointId);
      return [{ type: 'FactsGatheringFailed', data: { endpointId, at: command.at, code: command.code, message: command.message } }];
    default: {
      const never: never = command;
      throw new Error(`unknown command ${(never as { type: string }).type}`);
    }
  }
}

/** Folds one event into the state. */
export function evolve(state: EndpointState, event: EndpointEvent): EndpointState {
  switch (event.type) {
    case 'EndpointRegistered': {
      const { endpointId, labels, ssh, source, hostKeyPolicy } = event.data;
      // A re-registered endpoint keeps its pinned key: the machine is the same until a mismatch says otherwise.
      return { ...state, status: 'active', endpointId, labels, ssh, source, hostKeyPolicy };
    }
    case 'EndpointLabelsChanged':
      return { ...state, labels: event.data.labels };
    case 'EndpointSshIdentityChanged':
      return { ...state, ssh: event.data.ssh };
    case 'EndpointRetired':
      return { ...state, status: 'retired' };
    case 'HostKeyPinned':
      return { ...state, pinnedKey: event.data.key, pendingKey: undefined, mismatchedKey: undefined };
    case 'HostKeyPending':
      return { ...state, pendingKey: event.data.key };
    case 'HostKeyMismatchDetected':
      return { ...state, mismatchedKey: event.data.presented };
    case 'FactsGathered':
      return { ...state, facts: { gatheredAt: event.data.gatheredAt, facts: event.data.facts } };
    case 'FactsGatheringFailed':
      return { ...state, lastFailure: { at: event.data.at, code: event.data.code, message: event.data.message } };
    default: {
      const never: never = event;
      return never;
    }
  }
}

/** Whether the presented key may be used, after the observation's events are applied. */
export function hostKeyTrusted(state: EndpointState, presented: HostKey): boolean {
  return sameKey(state.pinnedKey, presented);
}

/** State from a stream's events, in order. */
export const replay = (events: readonly EndpointEvent[], from: EndpointState = initialState()): EndpointState => events.reduce(evolve, from);
