// The clients part of the scenario, as the admin of a clinic signed up for this run (so the clinic
// holds exactly the clients made here):
//   POST /v1/clients  201 with Location, Idempotency-Key replays, 409 on a taken external_id,
//                     422 naming `timezone` for a timezone that is not an IANA name
//   GET  /v1/clients  {items, next_cursor}: followed with a small `limit` through every page,
//                     in the order the clients were added, twice over with the same pages;
//                     400 for a cursor the API did not give out, and for `limit=0`
import { check, expectData, expectProblem, type Api } from "./api.js";

const CLIENTS = 7;
const PAGE = 3;
// What GET /v1/clients documents for its `cursor` parameter: a cursor it gives out must fit it.
const CURSOR_PATTERN = /^[A-Za-z0-9_-]+$/;

export interface ClientsContext {
  run: string;
  practitionerId: string;
}

export async function clientsPart(api: Api, ctx: ClientsContext): Promise<void> {
  const created = await createClients(api, ctx);
  await refusals(api, ctx);

  // After the refusals, so the walk also shows that none of them made a client.
  const walk = await followPages(api, "first walk");
  const seen = walk.flat();
  check(new Set(seen).size === seen.length, `a client was listed twice: ${JSON.stringify(seen)}`);
  check(
    seen.length === created.length && seen.every((id) => created.includes(id)),
    `the pages hold ${JSON.stringify(seen)}, not the ${created.length} clients created ${JSON.stringify(created)}`,
  );
  // GET /v1/clients documents "the order they were added".
  check(
    JSON.stringify(seen) === JSON.stringify(created),
    `the pages are not in the order the clients were added: ${JSON.stringify(seen)}`,
  );
  check(walk.length === Math.ceil(CLIENTS / PAGE), `${CLIENTS} clients came in ${walk.length} pages of ${PAGE}`);

  // A stable order: nothing changed, so walking again (reusing the cursors) gives the same pages.
  const again = await followPages(api, "second walk");
  check(
    JSON.stringify(again) === JSON.stringify(walk),
    `a second walk gave other pages: ${JSON.stringify(walk)} then ${JSON.stringify(again)}`,
  );
}

/** Makes the clients, in order; returns their ids. */
async function createClients(api: Api, ctx: ClientsContext): Promise<string[]> {
  const created: string[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const key = `scenario-client-${ctx.run}-${i}`;
    const body = {
      name: `Scenario Client ${i}`,
      email: `client-${i}-${ctx.run}@contract.example`,
      timezone: i % 2 === 0 ? "Europe/London" : "America/New_York",
      external_id: `scn-${ctx.run}-${i}`,
      primary_practitioner_id: ctx.practitionerId,
    };
    const answer = await api.POST("/v1/clients", { body, params: { header: { "Idempotency-Key": key } } });
    const client = expectData(`POST /v1/clients #${i}`, answer, 201);
    check(client.name === body.name && client.timezone === body.timezone, `client #${i}: name or timezone changed`);
    check(client.email === body.email, `client #${i}: email did not round-trip`);
    check(client.external_id === body.external_id, `client #${i}: external_id did not round-trip`);
    check(client.primary_practitioner_id === ctx.practitionerId, `client #${i}: practitioner did not round-trip`);
    check(!client.archived && client.archived_at == null && !client.has_login, `client #${i}: not a new client`);
    const location = answer.response.headers.get("location") ?? "";
    check(location.endsWith(`/v1/clients/${client.id}`), `client #${i}: Location is "${location}"`);
    created.push(client.id);

    if (i === 0) {
      // A retry with the same Idempotency-Key gets the first answer, not a second client.
      const replay = expectData(
        "POST /v1/clients (replayed)",
        await api.POST("/v1/clients", { body, params: { header: { "Idempotency-Key": key } } }),
        201,
      );
      check(replay.id === client.id, "a replayed create made a second client");
      // The same external id again, under a new key, is a conflict.
      const taken = expectProblem(
        "POST /v1/clients (external_id taken)",
        await api.POST("/v1/clients", { body, params: { header: { "Idempotency-Key": `${key}-again` } } }),
        409,
      );
      check(taken.type.endsWith("/conflict"), `a taken external_id gets problem type ${taken.type}`);
    }
  }
  return created;
}

/** Calls the server must refuse, and the problem documents it answers with. */
async function refusals(api: Api, ctx: ClientsContext): Promise<void> {
  // 422: well-formed JSON whose timezone is no IANA name; the problem names the field.
  const badZone = expectProblem(
    "POST /v1/clients (unknown timezone)",
    await api.POST("/v1/clients", {
      body: { name: "Never Added", timezone: "Mars/Olympus_Mons", external_id: `scn-${ctx.run}-bad` },
    }),
    422,
  );
  check(badZone.type.endsWith("/validation"), `an unknown timezone gets problem type ${badZone.type}`);
  const fields = (badZone.errors ?? []).map((e) => e.field);
  check(JSON.stringify(fields) === JSON.stringify(["timezone"]), `the 422 names the fields ${JSON.stringify(fields)}`);
  check((badZone.errors ?? []).every((e) => e.message.length > 0), "a field error without a message");

  // 400: a cursor that fits the documented pattern but that the API never gave out.
  const forged = expectProblem(
    "GET /v1/clients (forged cursor)",
    await api.GET("/v1/clients", { params: { query: { limit: PAGE, cursor: "bm90LWEtY3Vyc29y" } } }),
    400,
  );
  check(forged.type.endsWith("/bad-request"), `a forged cursor gets problem type ${forged.type}`);
  const named = (forged.errors ?? []).map((e) => e.field);
  check(JSON.stringify(named) === JSON.stringify(["cursor"]), `the 400 names the parameter: ${JSON.stringify(named)}`);

  // 422: a limit outside 1-200 was read, and breaks a rule ("Strict inputs").
  const limit = expectProblem(
    "GET /v1/clients?limit=0",
    await api.GET("/v1/clients", { params: { query: { limit: 0 } } }),
    422,
  );
  check((limit.errors ?? [])[0]?.field === "limit", `the 422 names the parameter: ${JSON.stringify(limit.errors)}`);
}

/** Follows `next_cursor` from the first page to the last; returns each page's client ids. */
async function followPages(api: Api, what: string): Promise<string[][]> {
  const pages: string[][] = [];
  let cursor: string | undefined;
  for (;;) {
    const n = pages.length + 1;
    const query = cursor === undefined ? { limit: PAGE } : { limit: PAGE, cursor };
    const page = expectData(
      `GET /v1/clients (${what}, page ${n})`,
      await api.GET("/v1/clients", { params: { query } }),
      200,
    );
    check(page.items.length <= PAGE, `${what}: page ${n} has ${page.items.length} items, over the limit ${PAGE}`);
    pages.push(page.items.map((c) => c.id));
    // The last page says so with `next_cursor: null`; the field is never left out.
    if (page.next_cursor === null) {
      return pages;
    }
    check(typeof page.next_cursor === "string", `${what}: page ${n} has no next_cursor at all`);
    check(
      CURSOR_PATTERN.test(page.next_cursor),
      `${what}: page ${n}'s next_cursor "${page.next_cursor}" does not fit the documented pattern`,
    );
    check(page.items.length > 0, `${what}: page ${n} is empty but not the last`);
    check(pages.length <= CLIENTS, `${what}: the cursor never ends`);
    cursor = page.next_cursor;
  }
}
