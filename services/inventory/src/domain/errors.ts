import { PatchbayError } from '@patchbay/contracts';

/** The command names an endpoint that was never registered. */
export class EndpointNotFoundError extends PatchbayError {
  constructor(endpointId: string) {
    super('ENDPOINT_NOT_FOUND', `endpoint ${endpointId} is not registered`, { endpointId });
  }
}

/** The command would change an endpoint that was retired. */
export class EndpointRetiredError extends PatchbayError {
  constructor(endpointId: string) {
    super('ENDPOINT_RETIRED', `endpoint ${endpointId} is retired`, { endpointId });
  }
}

/** `register` for an endpoint that exists with other settings (use update-labels / set-ssh-identity, or import). */
export class EndpointAlreadyRegisteredError extends PatchbayError {
  constructor(endpointId: string) {
    super('ENDPOINT_ALREADY_REGISTERED', `endpoint ${endpointId} is already registered with other settings`, { endpointId });
  }
}

/** `accept-host-key` names a fingerprint the endpoint has not presented. */
export class HostKeyNotPresentedError extends PatchbayError {
  constructor(endpointId: string, fingerprint: string) {
    super('HOST_KEY_NOT_PRESENTED', `endpoint ${endpointId} has not presented a host key with fingerprint ${fingerprint}`, { endpointId, fingerprint });
  }
}

/** One problem found in an inventory file: where, which field, and a stable code. */
export interface InventoryIssue {
  code: 'INVENTORY_PARSE_ERROR' | 'INVENTORY_DUPLICATE_HOST' | 'INVENTORY_UNDEFINED_GROUP' | 'INVALID_LABEL' | 'INVALID_ENDPOINT_ID' | 'INVALID_SSH_IDENTITY' | 'INVENTORY_TOO_LARGE';
  file: string;
  line: number;
  field: string;
  message: string;
}

/**
 * An import was refused: nothing was stored. `code` is the first issue's code; `details.issues`
 * lists every issue found (capped), each with file, line and field.
 */
export class InventoryImportError extends PatchbayError {
  constructor(readonly issues: InventoryIssue[]) {
    const first = issues[0]!;
    super(first.code, `${first.file}:${first.line}: ${first.field}: ${first.message}${issues.length > 1 ? ` (and ${issues.length - 1} more)` : ''}`, {
      issues: issues.slice(0, 100),
      total: issues.length,
    });
  }
}
