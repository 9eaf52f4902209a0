export const readTypeDefs = /* GraphQL */ `
  type PageInfo {
    hasNextPage: Boolean!
    endCursor: String
  }

  type Label {
    key: String!
    value: String!
  }

  "How the controller reaches the endpoint; the key only by reference (never a secret)."
  type SshIdentity {
    host: String!
    port: Int!
    user: String!
    sudo: Boolean!
    keyRef: String
  }

  type HostKeyState {
    "unknown, pinned, pending (an operator must accept) or mismatch"
    state: String!
    algorithm: String
    fingerprint: String
    decidedBy: String
    pinnedFingerprint: String
    at: DateTime
  }

  type OsInfo {
    id: String!
    versionId: String
    prettyName: String
  }

  type SecurityPackage {
    name: String!
    to: String!
    severity: String
    advisory: String
  }

  type EndpointFacts {
    gatheredAt: DateTime!
    os: OsInfo!
    packageManager: String!
    updatesKnown: Boolean!
    updateCount: Int!
    securityUpdateCount: Int!
    securityPackages: [SecurityPackage!]!
    rebootRequired: Boolean!
  }

  type FactsError {
    code: String!
    message: String!
    at: DateTime!
  }

  type EndpointCycleRef {
    cycleId: ID!
    state: String!
    at: DateTime!
  }

  type Endpoint {
    id: ID!
    labels: [Label!]!
    ssh: SshIdentity
    source: String
    retired: Boolean!
    hostKey: HostKeyState!
    facts: EndpointFacts
    lastFactsError: FactsError
    hasSecurityUpdates: Boolean!
    rebootRequired: Boolean!
    groupIds: [ID!]!
    lastCycle: EndpointCycleRef
    pendingUpdates: [PendingUpdate!]!
  }

  type EndpointEdge {
    cursor: String!
    node: Endpoint!
  }
  type EndpointConnection {
    edges: [EndpointEdge!]!
    pageInfo: PageInfo!
  }

  input LabelInput {
    key: String!
    value: String!
  }

  input EndpointFilter {
    "every label must match"
    labels: [LabelInput!]
    group: ID
    tier: String
    hasSecurityUpdates: Boolean
    rebootRequired: Boolean
    includeRetired: Boolean
  }

  type PendingUpdate {
    endpointId: ID!
    name: String!
    from: String
    to: String!
    arch: String
    origin: String
    security: Boolean!
    severity: String
    advisory: String
  }
  type PendingUpdateEdge {
    cursor: String!
    node: PendingUpdate!
  }
  type PendingUpdateConnection {
    edges: [PendingUpdateEdge!]!
    pageInfo: PageInfo!
  }
  input PendingUpdateFilter {
    endpointId: ID
    group: ID
    tier: String
    security: Boolean
    name: String
  }

  type GroupMember {
    endpointId: ID!
    "why the endpoint is in the group (selector matched, static member …)"
    reason: String!
    since: DateTime!
  }
  type GroupMemberEdge {
    cursor: String!
    node: GroupMember!
  }
  type GroupMemberConnection {
    edges: [GroupMemberEdge!]!
    pageInfo: PageInfo!
  }

  type ReferenceGroup {
    id: ID!
    version: Int!
    tier: String!
    name: String
    deleted: Boolean!
    memberCount: Int!
    definition: JSON!
    members(first: Int = 100, after: String): GroupMemberConnection!
  }
  type ReferenceGroupEdge {
    cursor: String!
    node: ReferenceGroup!
  }
  type ReferenceGroupConnection {
    edges: [ReferenceGroupEdge!]!
    pageInfo: PageInfo!
  }

  type Policy {
    id: ID!
    version: Int!
    name: String
    deleted: Boolean!
    definition: JSON!
    updatedAt: DateTime!
  }
  type PolicyEdge {
    cursor: String!
    node: Policy!
  }
  type PolicyConnection {
    edges: [PolicyEdge!]!
    pageInfo: PageInfo!
  }

  type WorkflowTemplateVersion {
    workflowId: ID!
    version: Int!
    template: JSON!
    savedAt: DateTime!
    savedBy: String
  }
  type WorkflowTemplate {
    id: ID!
    lastVersion: Int!
    name: String
    retired: Boolean!
    versions: [WorkflowTemplateVersion!]!
    "the requested version (the latest when none was asked for)"
    template: WorkflowTemplateVersion
  }
  type WorkflowTemplateEdge {
    cursor: String!
    node: WorkflowTemplate!
  }
  type WorkflowTemplateConnection {
    edges: [WorkflowTemplateEdge!]!
    pageInfo: PageInfo!
  }

  type CycleWave {
    index: Int!
    name: String!
    size: Int!
    "planned, released or completed"
    state: String!
    succeeded: Int!
    failed: Int!
  }
  type CycleApproval {
    by: String!
    auto: Boolean!
    comment: String
    at: DateTime!
  }
  type CycleCounts {
    planned: Int!
    skipped: Int!
    released: Int!
    succeeded: Int!
    failed: Int!
    cancelled: Int!
  }
  type CycleHalt {
    code: String!
    reason: String!
    failed: Int!
    threshold: Int!
    at: DateTime!
  }
  type Cycle {
    id: ID!
    kind: String!
    policyId: String!
    "requested, planned, awaiting-approval, approved, running, paused, halted, aborted, completed"
    status: String!
    requestedBy: String!
    requestedAt: DateTime!
    planHash: String
    waves: [CycleWave!]!
    counts: CycleCounts!
    approvals: [CycleApproval!]!
    approvalsRequired: Int
    haltReason: CycleHalt
    pauseReason: String
    abortReason: String
    startedAt: DateTime
    finishedAt: DateTime
  }
  type CycleEdge {
    cursor: String!
    node: Cycle!
  }
  type CycleConnection {
    edges: [CycleEdge!]!
    pageInfo: PageInfo!
  }
  input CycleFilter {
    status: [String!]
    kind: [String!]
    policyId: String
  }

  type RunStep {
    stepKey: String!
    stepId: String!
    type: String
    phase: String
    attempt: Int!
    "running, succeeded, failed, retrying, skipped"
    status: String!
    startedAt: DateTime
    finishedAt: DateTime
    durationMs: Float
    exitCode: Int
    code: String
    message: String
    stdoutTail: String!
    stderrTail: String!
  }
  type RunReboot {
    stepKey: String
    bootIdBefore: String
    bootIdAfter: String
    issuedAt: DateTime
    confirmedAt: DateTime
    waitedMs: Float
  }
  type EndpointRun {
    cycleId: ID!
    endpointId: ID!
    wave: Int!
    groupId: String
    tier: String
    "planned, released, running, succeeded, failed, cancelled"
    status: String!
    currentStep: String
    steps: [RunStep!]!
    reboots: [RunReboot!]!
    startedAt: DateTime
    finishedAt: DateTime
    durationMs: Float
    code: String
    message: String
  }
  type EndpointRunEdge {
    cursor: String!
    node: EndpointRun!
  }
  type EndpointRunConnection {
    edges: [EndpointRunEdge!]!
    pageInfo: PageInfo!
  }
  input EndpointRunFilter {
    status: [String!]
    wave: Int
  }

  type ComplianceGap {
    endpointId: ID!
    groupIds: [ID!]!
    missing: [SecurityPackage!]!
  }
  type Compliance {
    groupId: ID
    tier: String
    endpoints: Int!
    compliant: Int!
    "endpoints whose facts were never gathered"
    unknown: Int!
    gaps: [ComplianceGap!]!
  }

  type ReadModelPosition {
    name: String!
    position: String
  }

  extend type Query {
    endpoints(filter: EndpointFilter, first: Int = 50, after: String): EndpointConnection!
    endpoint(id: ID!): Endpoint
    referenceGroups(tier: String, first: Int = 50, after: String): ReferenceGroupConnection!
    referenceGroup(id: ID!): ReferenceGroup
    policies(first: Int = 50, after: String): PolicyConnection!
    policy(id: ID!): Policy
    workflowTemplates(first: Int = 50, after: String): WorkflowTemplateConnection!
    workflowTemplate(id: ID!, version: Int): WorkflowTemplate
    cycles(filter: CycleFilter, first: Int = 50, after: String): CycleConnection!
    cycle(id: ID!): Cycle
    endpointRuns(cycleId: ID!, filter: EndpointRunFilter, first: Int = 100, after: String): EndpointRunConnection!
    pendingUpdates(filter: PendingUpdateFilter, first: Int = 100, after: String): PendingUpdateConnection!
    "security updates missing per endpoint, for one group or one tier"
    compliance(groupId: ID, tier: String): Compliance!
  }

  extend type Mutation {
    "Drops every read model and replays the event store."
    rebuildReadModels: [ReadModelPosition!]!
  }
`;
