// The clients part of the scenario, written against DESIGN.md's contract:
//   POST /v1/clients {name, email, timezone, external_id, primary_practitioner_id} -> 201 client
//   GET  /v1/clients?limit=&cursor=  -> {items, next_cursor}, limit 1-200, stable order
// It compiles once those endpoints are in openapi/openapi.json (see tsconfig.json's exclude).
import { check, expectData, expectProblem, type Api } from "./api.js";

const CLIENTS = 7;
const PAGE = 3;

export async function clientsPart(api: Api, ctx: { run: string; practitionerId: string }): Promise<void> {
  const created = new Map<string, string>();
  for (let i = 0; i < CLIENTS; i++) {
    const key = `scenario-client-${ctx.run}-${i}`;
    const body = {
      name: `Scenario Client ${i}`,
      email: `client-${i}-${ctx.run}@contract.example`,
      timezone: i % 2 === 0 ? "Europe/London" : "America/New_York",
      external_id: `scn-${ctx.run}-${i}`,
      primary_practitioner_id: ctx.practitionerId,
    };
    const client = expectData(
      `POST /v1/clients #${i}`,
      await api.POST("/v1/clients", { body, params: { header: { "Idempotency-Key": key } } }),
      201,
    );
    check(client.external_id === body.external_id, `client #${i}: external_id did not round-trip`);
    check(client.primary_practitioner_id === ctx.practitionerId, `client #${i}: practitioner did not round-trip`);
    created.set(client.id, client.name);

    if (i === 0) {
      // A retry with the same Idempotency-Key gets the first answer, not a second client.
      const replay = expectData(
        "POST /v1/clients (replayed)",
        await api.POST("/v1/clients", { body, params: { header: { "Idempotency-Key": key } } }),
        201,
      );
      check(replay.id === client.id, "a replayed create made a second client");
      // The same external id again, with a new key, is a conflict.
      expectProblem(
        "POST /v1/clients (duplicate external_id)",
        await api.POST("/v1/clients", { body, params: { header: { "Idempotency-Key": `${key}-again` } } }),
        409,
      );
    }
  }

  // Follow the cursor through every page: each client exactly once, no page over the limit.
  const seen: string[] = [];
  let cursor: string | undefined;
  let pages = 0;
  do {
    const page = expectData(
      `GET /v1/clients page ${pages + 1}`,
      await api.GET("/v1/clients", { params: { query: cursor === undefined ? { limit: PAGE } : { limit: PAGE, cursor } } }),
      200,
    );
    pages += 1;
    check(page.items.length <= PAGE, `page ${pages} has ${page.items.length} items, over the limit ${PAGE}`);
    check(page.items.length > 0 || page.next_cursor == null, `page ${pages} is empty but not the last`);
    seen.push(...page.items.map((c) => c.id));
    cursor = page.next_cursor ?? undefined;
    check(pages <= CLIENTS + 1, "the cursor never ends");
  } while (cursor !== undefined);

  check(new Set(seen).size === seen.length, `a client was listed twice: ${JSON.stringify(seen)}`);
  check(
    seen.length === created.size && seen.every((id) => created.has(id)),
    `the pages hold ${seen.length} clients, not the ${created.size} created`,
  );
  check(pages === Math.ceil(CLIENTS / PAGE), `${CLIENTS} clients came in ${pages} pages of ${PAGE}`);

  // An out-of-range limit is the caller's fault, told as a problem.
  expectProblem("GET /v1/clients?limit=0", await api.GET("/v1/clients", { params: { query: { limit: 0 } } }), 400);
}
