/** The open liveness/readiness query: no token needed. */
export const healthTypeDefs = /* GraphQL */ `
  enum ServiceStatus {
    ok
    degraded
    unreachable
  }

  type HealthCheck {
    name: String!
    ok: Boolean!
    detail: String
  }

  type ServiceHealth {
    service: String!
    status: ServiceStatus!
    pid: Int
    uptimeSeconds: Float
    version: String
    checks: [HealthCheck!]!
    "Why the service is unreachable (error code), when it is."
    error: String
  }

  type Health {
    "ok when every service answered ok."
    status: ServiceStatus!
    services: [ServiceHealth!]!
  }

  type Query {
    health: Health!
  }
`;
