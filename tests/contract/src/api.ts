// Typed access to the Rehabit API through a client generated from openapi/openapi.json.
import createClient, { type Client } from "openapi-fetch";
import type { components, paths } from "./generated/api.js";

export type Api = Client<paths>;
export type Problem = components["schemas"]["Problem"];

/** A client without credentials (sign-up, tokens, and calls that must be refused). */
export function anonymous(baseUrl: string): Api {
  return createClient<paths>({ baseUrl });
}

/** A client that sends `Authorization: Bearer <accessToken>` on every call. */
export function signedIn(baseUrl: string, accessToken: string): Api {
  return createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${accessToken}` } });
}

export class ScenarioError extends Error {}

/** Fails the scenario with `message` unless `ok`. */
export function check(ok: unknown, message: string): asserts ok {
  if (!ok) {
    throw new ScenarioError(message);
  }
}

/** The typed body of a successful answer, or a failure that shows what came back instead. */
export function expectData<T>(
  what: string,
  result: { data?: T; error?: unknown; response: Response },
  status: number,
): T {
  const { data, error, response } = result;
  check(
    response.status === status && data !== undefined,
    `${what}: expected ${status}, got ${response.status} ${JSON.stringify(error ?? data)}`,
  );
  return data;
}

/**
 * The problem document of a failed call: checks its status and media type, and that its fields
 * agree with the HTTP answer (RFC 9457 as DESIGN.md uses it).
 */
export function expectProblem(
  what: string,
  result: { data?: unknown; error?: Problem; response: Response },
  status: number,
): Problem {
  const { data, error, response } = result;
  check(
    response.status === status && error !== undefined,
    `${what}: expected a ${status} problem, got ${response.status} ${JSON.stringify(data ?? error)}`,
  );
  const mediaType = response.headers.get("content-type") ?? "";
  check(mediaType.startsWith("application/problem+json"), `${what}: problem served as "${mediaType}"`);
  check(error.status === status, `${what}: problem.status ${error.status} but HTTP ${status}`);
  check(error.type.startsWith("https://"), `${what}: problem.type "${error.type}" is not a URI`);
  check(error.title.length > 0 && error.detail.length > 0, `${what}: problem without title or detail`);
  return error;
}
