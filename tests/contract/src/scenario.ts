// The contract scenario: drives the running service only through the client generated from
// openapi/openapi.json, so where the document and the server disagree, this breaks (at compile
// time for shapes, at run time for statuses and bodies).
//
// Usage: REHABIT_BASE_URL=http://127.0.0.1:8080 node dist/scenario.js
import { randomUUID } from "node:crypto";
import { anonymous, check, expectData, expectProblem, ScenarioError, signedIn, type Api } from "./api.js";
import { clientsPart } from "./clients.js";

const baseUrl = process.env.REHABIT_BASE_URL ?? "http://127.0.0.1:8080";
const run = randomUUID().slice(0, 8);

let steps = 0;
async function step(name: string, body: () => Promise<void>): Promise<void> {
  const started = Date.now();
  await body();
  steps += 1;
  console.log(`  ok  ${name} (${Date.now() - started} ms)`);
}

interface Session {
  api: Api;
  accessToken: string;
  refreshToken: string;
  clinicId: string;
  practitionerId: string;
}

async function signUpAndSignIn(): Promise<Session> {
  const email = `scenario-${run}@contract.example`;
  const password = "contract scenario password";
  const guest = anonymous(baseUrl);
  let session: Session | undefined;

  await step("sign up a clinic", async () => {
    const signUp = expectData(
      "POST /v1/clinics",
      await guest.POST("/v1/clinics", {
        body: { clinic_name: `Scenario Physio ${run}`, admin: { name: "Scenario Admin", email, password } },
        params: { header: { "Idempotency-Key": `scenario-signup-${run}` } },
      }),
      201,
    );
    check(signUp.admin.role === "admin", `the first member is ${signUp.admin.role}, not admin`);
    check(signUp.admin.email === email, "the admin's email did not round-trip");

    const tokens = expectData(
      "POST /v1/auth/token (password)",
      await guest.POST("/v1/auth/token", { body: { grant_type: "password", username: email, password } }),
      200,
    );
    check(tokens.token_type === "Bearer", `token_type is ${tokens.token_type}`);
    check(tokens.expires_in > 0, "expires_in is not positive");
    session = {
      api: signedIn(baseUrl, tokens.access_token),
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token,
      clinicId: signUp.clinic.id,
      practitionerId: signUp.admin.id,
    };
  });
  check(session, "no session");
  return session;
}

async function whoAmI(session: Session): Promise<void> {
  await step("read and update my account (ETag, If-Match, merge patch)", async () => {
    const read = await session.api.GET("/v1/me");
    const me = expectData("GET /v1/me", read, 200);
    check(me.clinic.id === session.clinicId, "/v1/me names another clinic");
    check(me.practitioner_id === session.practitionerId, "/v1/me names another practitioner");
    const etag = read.response.headers.get("etag");
    check(etag === `"${me.version}"`, `ETag ${etag} does not carry version ${me.version}`);

    const renamed = expectData(
      "PATCH /v1/me",
      await session.api.PATCH("/v1/me", {
        params: { header: { "If-Match": etag } },
        body: { name: "Scenario Admin (renamed)" },
        headers: { "Content-Type": "application/merge-patch+json" },
      }),
      200,
    );
    check(renamed.name === "Scenario Admin (renamed)", "the new name did not stick");
    check(renamed.version > me.version, "the version did not increase");

    expectProblem(
      "PATCH /v1/me with a stale If-Match",
      await session.api.PATCH("/v1/me", {
        params: { header: { "If-Match": etag } },
        body: { name: "Never applied" },
        headers: { "Content-Type": "application/merge-patch+json" },
      }),
      412,
    );
  });
}

async function refreshAndRevoke(session: Session): Promise<Session> {
  const guest = anonymous(baseUrl);
  let next: Session | undefined;
  await step("refresh tokens, then revoke the sign-in", async () => {
    const tokens = expectData(
      "POST /v1/auth/token (refresh_token)",
      await guest.POST("/v1/auth/token", {
        body: { grant_type: "refresh_token", refresh_token: session.refreshToken },
      }),
      200,
    );
    next = {
      ...session,
      api: signedIn(baseUrl, tokens.access_token),
      accessToken: tokens.access_token,
      refreshToken: tokens.refresh_token,
    };
    expectData("GET /v1/me (refreshed token)", await next.api.GET("/v1/me"), 200);

    const revoked = await guest.POST("/v1/auth/revoke", { body: { token: tokens.refresh_token } });
    check(revoked.response.status === 200, `POST /v1/auth/revoke answered ${revoked.response.status}`);
    const refused = expectProblem("GET /v1/me (revoked sign-in)", await next.api.GET("/v1/me"), 401);
    check(refused.type.endsWith("/unauthorized"), `a revoked token gets problem type ${refused.type}`);
  });
  check(next, "no session");
  return next;
}

async function problems(): Promise<void> {
  const guest = anonymous(baseUrl);
  await step("read problem documents from failed calls", async () => {
    // 422: well-formed JSON that breaks rules names every field at fault.
    const invalid = expectProblem(
      "POST /v1/clinics (invalid)",
      await guest.POST("/v1/clinics", {
        body: { clinic_name: "", admin: { name: "A", email: "not an email", password: "short" } },
      }),
      422,
    );
    const fields = (invalid.errors ?? []).map((e) => e.field).sort();
    check(
      JSON.stringify(fields) === JSON.stringify(["admin.email", "admin.password", "clinic_name"]),
      `422 names the fields ${JSON.stringify(fields)}`,
    );
    check((invalid.errors ?? []).every((e) => e.message.length > 0), "a field error without a message");

    // 400: a body that is not JSON at all.
    const malformed = expectProblem(
      "POST /v1/clinics (malformed)",
      await guest.POST("/v1/clinics", {
        body: { clinic_name: "x", admin: { name: "x", email: "x@x.example", password: "x" } },
        bodySerializer: () => '{"clinic_name": ',
      }),
      400,
    );
    check(malformed.errors === undefined, "a 400 problem carries field errors");

    // 401: no credentials, with the challenge RFC 9110 asks for.
    const unauthenticated = await guest.GET("/v1/me");
    expectProblem("GET /v1/me (no token)", unauthenticated, 401);
    const challenge = unauthenticated.response.headers.get("www-authenticate") ?? "";
    check(challenge.startsWith("Bearer"), `401 without a Bearer challenge: "${challenge}"`);

    // OAuth 2 errors keep their RFC 6749 code beside the problem fields.
    const wrong = expectProblem(
      "POST /v1/auth/token (wrong password)",
      await guest.POST("/v1/auth/token", {
        body: { grant_type: "password", username: `nobody-${run}@contract.example`, password: "wrong password" },
      }),
      401,
    );
    check(wrong.error === "invalid_grant", `wrong credentials give OAuth error ${wrong.error}`);
  });
}

async function main(): Promise<void> {
  console.log(`contract scenario against ${baseUrl}`);
  const session = await signUpAndSignIn();
  await whoAmI(session);
  await step("create clients, follow the cursor through every page, read their problems", () =>
    clientsPart(session.api, { run, practitionerId: session.practitionerId }),
  );
  await problems();
  await refreshAndRevoke(session);
  console.log(`contract scenario: ${steps} steps passed`);
}

main().catch((e: unknown) => {
  console.error(e instanceof ScenarioError ? `FAILED: ${e.message}` : e);
  process.exit(1);
});
