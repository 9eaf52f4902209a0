export const auditTypeDefs = /* GraphQL */ `
  "One stored event with everything its hash covers."
  type PatchEvent {
    eventId: ID!
    stream: String!
    revision: Int!
    "Global position in the store (decimal string: it may exceed 2^53)."
    position: String!
    type: String!
    recordedAt: DateTime!
    actor: String!
    correlationId: String!
    causationId: String!
    schemaVersion: Int!
    traceparent: String
    prevHash: String!
    hash: String!
    data: JSON
  }

  type WaveAsOf {
    index: Int!
    name: String!
    size: Int!
    status: String!
    succeeded: Int!
    failed: Int!
  }

  type EndpointAsOf {
    endpointId: ID!
    wave: Int
    groupId: String
    tier: String
    "planned, released, running, succeeded, failed or cancelled"
    state: String!
    step: String
    code: String
  }

  type EndpointStateCount {
    state: String!
    count: Int!
  }

  "A cycle rebuilt from the store as of one moment."
  type CycleAsOf {
    cycleId: ID!
    status: String!
    kind: String
    policyId: String
    requestedBy: String
    planHash: String
    approvals: Int!
    approvalsRequired: Int
    haltCode: String
    waves: [WaveAsOf!]!
    endpoints: [EndpointAsOf!]!
    endpointsByState: [EndpointStateCount!]!
    eventCount: Int!
    lastEventId: ID
    lastPosition: String
    lastRecordedAt: DateTime
    "Event types the fold does not know (skipped)."
    unknownEventTypes: [String!]!
  }

  type StreamVerification {
    stream: String!
    events: Int!
    ok: Boolean!
    headHash: String
  }

  type BrokenLink {
    stream: String!
    revision: Int!
    eventId: ID
    reason: String!
  }

  type CycleVerification {
    cycleId: ID!
    ok: Boolean!
    streams: [StreamVerification!]!
    firstBroken: BrokenLink
  }

  enum ExportFormat {
    jsonl
    csv
  }

  type CycleExport {
    "The file (JSON Lines or CSV)."
    content: String!
    "What is signed: format, cycle, event count, SHA-256 of content, key id."
    manifest: JSON!
    "Ed25519 signature over the canonical JSON of manifest, base64."
    signature: String!
  }

  type AuditPublicKey {
    keyId: String!
    algorithm: String!
    "SPKI PEM."
    pem: String!
  }

  extend type Query {
    "The cycle's full history: its stream and all its run streams, in global order."
    cycleHistory(cycleId: ID!, after: String, first: Int): [PatchEvent!]!
    "The cycle as of a date-time or an event id (exactly one)."
    cycleAsOf(cycleId: ID!, at: DateTime, eventId: ID): CycleAsOf!
    verifyCycle(cycleId: ID!): CycleVerification!
    cycleExport(cycleId: ID!, format: ExportFormat!): CycleExport!
    auditPublicKey: AuditPublicKey!
  }
`;
