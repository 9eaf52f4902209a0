export const webhookTypeDefs = /* GraphQL */ `
  type WebhookSubscription {
    id: ID!
    url: String!
    eventTypes: [String!]!
    groups: [String!]!
    tiers: [String!]!
    createdAt: DateTime!
    createdBy: String!
    deletedAt: DateTime
  }

  type CreatedWebhookSubscription {
    subscription: WebhookSubscription!
    "HMAC-SHA256 key of the Patchbay-Signature header: shown only here."
    secret: String!
  }

  enum DeliveryStatus {
    pending
    delivered
    dead
  }

  type DeliveryAttempt {
    attempt: Int!
    at: DateTime!
    "HTTP status, when the receiver answered."
    status: Int
    error: String
    durationMs: Int!
  }

  type WebhookDelivery {
    id: ID!
    subscriptionId: ID!
    eventId: ID!
    eventType: String!
    status: DeliveryStatus!
    attempts: Int!
    nextAttemptAt: DateTime
    lastStatus: Int
    lastError: String
    createdAt: DateTime!
    finishedAt: DateTime
    log: [DeliveryAttempt!]!
  }

  input WebhookSubscriptionInput {
    url: String!
    "Event types; empty: every cycle and run event."
    eventTypes: [String!]
    groups: [String!]
    tiers: [String!]
    "Shared secret (16-256 chars); generated when missing."
    secret: String
  }

  extend type Query {
    webhookSubscriptions: [WebhookSubscription!]!
    webhookDeliveries(subscriptionId: ID!, status: DeliveryStatus, first: Int): [WebhookDelivery!]!
  }

  extend type Mutation {
    createWebhookSubscription(input: WebhookSubscriptionInput!): CreatedWebhookSubscription!
    deleteWebhookSubscription(id: ID!): WebhookSubscription!
  }
`;
