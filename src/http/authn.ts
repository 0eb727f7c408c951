// Authentication methods are one interface with several implementations (Basic, OIDC bearer,
// portal session); the first method that recognises a request's credentials decides.
import type { FastifyRequest } from "fastify";
import type { Caller } from "../domain/caller.js";
import { DomainError } from "../domain/errors.js";

export interface Authenticator {
  /** For logs and the audit trail: "basic", "bearer", "session". */
  readonly name: string;
  /**
   * undefined when the request carries no credentials of this kind; the caller when they are
   * valid; throws DomainError("auth") when they are present but invalid.
   */
  authenticate(req: FastifyRequest): Promise<Caller | undefined>;
}

export async function authenticateRequest(req: FastifyRequest, methods: readonly Authenticator[]): Promise<Caller> {
  for (const m of methods) {
    const caller = await m.authenticate(req);
    if (caller) return caller;
  }
  throw new DomainError("auth", "NotAuthenticated", "authentication required");
}
