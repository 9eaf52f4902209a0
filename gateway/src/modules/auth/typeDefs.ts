export const authTypeDefs = /* GraphQL */ `
  enum Role {
    viewer
    operator
    approver
    auditor
    admin
  }

  type ApiToken {
    id: ID!
    name: String!
    roles: [Role!]!
    createdAt: DateTime!
    createdBy: String!
    revokedAt: DateTime
  }

  type CreatedApiToken {
    "The token itself: shown only in this answer, never again (only its SHA-256 is stored)."
    token: String!
    info: ApiToken!
  }

  type Me {
    tokenId: ID!
    name: String!
    roles: [Role!]!
    "What commands and events record as the actor."
    actor: String!
    "Every operation this token may run (Mutation.approveCycle …): a client shows only what the caller can use."
    operations: [String!]!
  }

  extend type Query {
    me: Me!
    apiTokens: [ApiToken!]!
  }

  type Mutation {
    createApiToken(name: String!, roles: [Role!]!): CreatedApiToken!
    revokeApiToken(id: ID!): ApiToken!
  }
`;
