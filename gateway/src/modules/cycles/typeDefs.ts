export const cycleTypeDefs = /* GraphQL */ `
  "A command's answer from a service, as it sent it; id: the id it produced (cycle, group, policy …), when its reply names one."
  type CommandResult {
    commandId: ID!
    id: ID
    result: JSON
  }

  extend type Mutation {
    requestCycle(policyId: String!, cycleId: ID): CommandResult!
    requestEmergencyCycle(policyId: String!, emergency: JSON!, cycleId: ID): CommandResult!
    "The planner refuses an approval by the cycle's requester."
    approveCycle(cycleId: ID!, comment: String): CommandResult!
    pauseCycle(cycleId: ID!, reason: String!): CommandResult!
    resumeCycle(cycleId: ID!): CommandResult!
    abortCycle(cycleId: ID!, reason: String!): CommandResult!
  }
`;
