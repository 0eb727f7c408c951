import type { App, Services } from "../app.js";

/** The CA chain and CRL are public: relying parties fetch them without credentials. */
export function registerCaRoutes(app: App, s: Services): void {
  app.get("/ca/certificates", async (_req, reply) => {
    reply.header("content-type", "application/pem-certificate-chain").header("cache-control", "public, max-age=3600");
    return s.ctx.ca.chainPem();
  });
  app.get("/ca/issuer.cer", async (_req, reply) => {
    reply.header("content-type", "application/pkix-cert").header("cache-control", "public, max-age=3600");
    return s.ctx.ca.issuingCertDer;
  });
  app.get("/ca/crl", async (_req, reply) => {
    reply.header("content-type", "application/pkix-crl").header("cache-control", "public, max-age=60");
    return s.ctx.ca.currentCrl();
  });
}
