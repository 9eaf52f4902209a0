export const commandTypeDefs = /* GraphQL */ `
  enum InventoryFormat {
    ansible_ini
    ansible_yaml
    csv
  }

  enum HostKeyPolicy {
    tofu
    explicit
  }

  input SshDefaultsInput {
    user: String
    port: Int
    keyRef: String
    sudo: Boolean
  }

  input BundleFileInput {
    name: String!
    content: String!
  }

  "One occurrence of a policy's maintenance window: the instants, and the wall clock in the window's own time zone."
  type WindowOccurrence {
    "Index of the window in the policy's windows."
    windowIndex: Int!
    start: DateTime!
    end: DateTime!
    "IANA time zone the window's cron is read in."
    timezone: String!
    "Wall-clock start in the window's zone (YYYY-MM-DDTHH:mm:ss±hh:mm)."
    localStart: String!
    localEnd: String!
  }

  extend type Query {
    "The next maintenance windows of a policy, computed by the policy service (cron in the window's zone, blackout dates skipped; a window open at from counts)."
    policyWindows(policyId: ID!, from: DateTime, count: Int = 5): [WindowOccurrence!]!
  }

  extend type Mutation {
    "Registers, updates (and with retireMissing retires) the endpoints an inventory file lists; id: the registration source."
    importInventory(format: InventoryFormat!, fileName: String!, content: String!, retireMissing: Boolean, hostKeyPolicy: HostKeyPolicy, dryRun: Boolean, defaults: SshDefaultsInput): CommandResult!
    "Gathers facts from the endpoints (all active ones when none are named)."
    gatherFacts(endpointIds: [ID!], refresh: Boolean, wait: Boolean): CommandResult!
    "Pins the pending or mismatching host key with this fingerprint, verified out of band."
    acceptHostKey(endpointId: ID!, fingerprint: String!, reason: String!): CommandResult!
    "Defines or updates a reference group (the policy service validates it); id: the group id."
    defineReferenceGroup(group: JSON!): CommandResult!
    "Defines or updates a patch policy; id: the policy id."
    definePolicy(policy: JSON!): CommandResult!
    "Saves a new version of a workflow template (none when unchanged); id: the template id."
    saveWorkflowTemplate(template: JSON!): CommandResult!
    "Applies a bundle of group, policy and workflow files (YAML or JSON)."
    applyPolicyBundle(files: [BundleFileInput!]!, prune: Boolean, dryRun: Boolean): CommandResult!
    "Dry run of a cycle request: the plan, its hash and its printed form; nothing stored."
    previewCycle(policyId: String!, emergency: JSON): CommandResult!
    "An emergency cycle (same as requestEmergencyCycle); id: the cycle id."
    emergencyCycle(policyId: String!, emergency: JSON!, cycleId: ID): CommandResult!
  }
`;
