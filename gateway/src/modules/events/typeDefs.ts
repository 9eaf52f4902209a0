export const eventTypeDefs = /* GraphQL */ `
  input PatchEventFilter {
    "Reference group ids; empty or missing: any."
    groups: [String!]
    tiers: [String!]
    "Event types (CycleStarted, StepFailed, ...)."
    types: [String!]
  }

  type Subscription {
    "Events of one cycle and its runs, as they happen."
    cycleProgress(cycleId: ID!): PatchEvent!
    "Every patch event matching the filter (for ITSM)."
    patchEvents(filter: PatchEventFilter): PatchEvent!
  }
`;
