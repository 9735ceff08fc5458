"""The contract scenario, in Python: drives the running service only through the client that
openapi-python-client generated from openapi/openapi.json (package `rehabit_client`), so where the
document and the server disagree, or the generated code does not work, this breaks.

First it imports every generated module (a generator bug shows up as a module that does not
import), then: sign up a clinic and sign in; add clients and follow the cursor through every page;
give one client homework and log a session twice with one client-made id (201, then 200 with the
same log); read the client's progress; read the fields of a problem document.

Usage: REHABIT_BASE_URL=http://127.0.0.1:8080 python scenario.py GENERATED_DIR
"""

import datetime
import importlib
import os
import pkgutil
import sys
import time
import uuid

CLIENTS = 5
PAGE = 2


class ScenarioError(Exception):
    pass


def check(condition, message):
    if not condition:
        raise ScenarioError(message)


def expect(what, answer, status, kind):
    """The parsed body of `answer`, which must have this status and be of this generated type."""
    body = answer.content.decode("utf-8", "replace")[:500]
    check(answer.status_code == status, f"{what} answered {answer.status_code}, not {status}: {body}")
    check(isinstance(answer.parsed, kind), f"{what}: the body is not a {kind.__name__}: {body}")
    return answer.parsed


steps = 0


def step(name):
    def run(body):
        global steps
        started = time.monotonic()
        body()
        steps += 1
        print(f"  ok  {name} ({(time.monotonic() - started) * 1000:.0f} ms)")
        return body

    return run


def import_everything():
    import rehabit_client

    failed = []
    count = 0
    for module in pkgutil.walk_packages(rehabit_client.__path__, "rehabit_client."):
        count += 1
        try:
            importlib.import_module(module.name)
        except Exception as e:  # noqa: BLE001 - any failure to import is the finding
            failed.append(f"{module.name}: {type(e).__name__}: {e}")
    check(not failed, "generated modules that do not import:\n    " + "\n    ".join(failed))
    check(count > 100, f"only {count} generated modules")
    return count


def main():
    sys.path.insert(0, sys.argv[1])
    base_url = os.environ.get("REHABIT_BASE_URL", "http://127.0.0.1:8080")
    run = uuid.uuid4().hex[:8]
    print(f"python contract scenario against {base_url}")

    count = import_everything()
    print(f"  ok  import every generated module ({count})")

    from rehabit_client import AuthenticatedClient, Client
    from rehabit_client.api.assignments import create_assignment
    from rehabit_client.api.auth import create_token
    from rehabit_client.api.clients import create_client, list_clients
    from rehabit_client.api.clinics import create_clinic
    from rehabit_client.api.progress import get_client_progress
    from rehabit_client.api.routines import list_routines
    from rehabit_client.api.sessions import create_session
    from rehabit_client.models import (
        AssignmentResponse,
        ClientResponse,
        CreateAssignmentRequest,
        CreateClientRequest,
        CreateSessionRequest,
        GrantType,
        PageClientListItem,
        PageRoutineResponse,
        Problem,
        ProgressResponse,
        ScheduleBody,
        SessionResponse,
        SignUpAdmin,
        SignUpRequest,
        SignUpResponse,
        TokenRequest,
        TokenResponse,
    )

    # Signing up and signing in need no credentials. (The generator types these operations'
    # `client` as AuthenticatedClient, as they list a security requirement, the empty one; a
    # plain Client works the same.)
    anonymous = Client(base_url=base_url)
    email = f"python-{run}@contract.example"
    password = "python scenario password"
    state = {}

    @step("sign up a clinic and sign in")
    def _():
        signed_up = expect(
            "POST /v1/clinics",
            create_clinic.sync_detailed(
                client=anonymous,
                body=SignUpRequest(
                    clinic_name=f"Python Physio {run}",
                    admin=SignUpAdmin(name="Python Admin", email=email, password=password),
                ),
                idempotency_key=f"python-signup-{run}",
            ),
            201,
            SignUpResponse,
        )
        check(signed_up.admin.email == email, "the admin's email did not round-trip")
        tokens = expect(
            "POST /v1/auth/token",
            create_token.sync_detailed(
                client=anonymous,
                body=TokenRequest(grant_type=GrantType.PASSWORD, username=email, password=password),
            ),
            200,
            TokenResponse,
        )
        check(tokens.token_type == "Bearer", f"token_type is {tokens.token_type}")
        state["api"] = AuthenticatedClient(base_url=base_url, token=tokens.access_token)
        state["practitioner_id"] = signed_up.admin.id

    api = state["api"]

    @step("add clients and follow the cursor through every page")
    def _():
        created = []
        for i in range(CLIENTS):
            made = expect(
                f"POST /v1/clients #{i}",
                create_client.sync_detailed(
                    client=api,
                    body=CreateClientRequest(
                        name=f"Python Client {i}",
                        timezone="Europe/London",
                        email=f"client-{i}-{run}@contract.example",
                        external_id=f"py-{run}-{i}",
                        primary_practitioner_id=state["practitioner_id"],
                    ),
                ),
                201,
                ClientResponse,
            )
            check(made.timezone == "Europe/London", f"client #{i}: the timezone did not round-trip")
            created.append(made.id)
        seen, cursor, pages = [], None, 0
        while True:
            page = expect(
                f"GET /v1/clients (page {pages + 1})",
                list_clients.sync_detailed(client=api, limit=PAGE, **({"cursor": cursor} if cursor else {})),
                200,
                PageClientListItem,
            )
            pages += 1
            check(len(page.items) <= PAGE, f"page {pages} has {len(page.items)} items")
            seen += [c.id for c in page.items]
            if page.next_cursor is None:
                break
            check(isinstance(page.next_cursor, str), f"page {pages}: next_cursor is {page.next_cursor!r}")
            check(pages <= CLIENTS, "the cursor never ends")
            cursor = page.next_cursor
        check(seen == created, f"the pages hold {seen}, not the clients in the order added {created}")
        check(pages == -(-CLIENTS // PAGE), f"{CLIENTS} clients came in {pages} pages of {PAGE}")
        state["client_id"] = created[0]

    @step("give homework and log a session twice with one client-made id (201, then 200)")
    def _():
        routines = expect(
            "GET /v1/routines?builtin=true",
            list_routines.sync_detailed(client=api, builtin=True, limit=1),
            200,
            PageRoutineResponse,
        )
        check(routines.items, "no built-in routine")
        start = datetime.datetime.now(datetime.UTC).date() - datetime.timedelta(days=7)
        assignment = expect(
            "POST /v1/clients/{id}/assignments",
            create_assignment.sync_detailed(
                state["client_id"],
                client=api,
                body=CreateAssignmentRequest(routine_id=routines.items[0].id, schedule=ScheduleBody(start_date=start)),
            ),
            201,
            AssignmentResponse,
        )
        log = CreateSessionRequest(
            id=uuid.uuid4(),
            performed_at=datetime.datetime.now(datetime.UTC).replace(microsecond=0) - datetime.timedelta(hours=1),
            pain_before=4,
            pain_after=2,
            notes="logged offline, sent twice",
        )
        first = expect(
            "POST /v1/assignments/{id}/sessions",
            create_session.sync_detailed(assignment.id, client=api, body=log),
            201,
            SessionResponse,
        )
        again = expect(
            "POST /v1/assignments/{id}/sessions (the same id again)",
            create_session.sync_detailed(assignment.id, client=api, body=log),
            200,
            SessionResponse,
        )
        check(first.id == log.id and again.id == log.id, "the log does not keep the client-made id")
        check(again.version == first.version, "the retry changed the stored log")
        check(first.performed_at == log.performed_at, f"performed_at came back as {first.performed_at}")
        check(first.pain_after == 2 and not first.flagged, "the pain or the flag did not round-trip")
        state["assignment_id"] = assignment.id

    @step("read the client's progress")
    def _():
        progress = expect(
            "GET /v1/clients/{id}/progress",
            get_client_progress.sync_detailed(state["client_id"], client=api),
            200,
            ProgressResponse,
        )
        check(progress.client_id == state["client_id"], "the progress names another client")
        check(progress.adherence.done >= 1, f"adherence counts {progress.adherence.done} sessions done")
        check(
            [a.assignment_id for a in progress.assignments] == [state["assignment_id"]],
            "the progress does not list the homework",
        )

    @step("read the fields of problem documents")
    def _():
        invalid = expect(
            "POST /v1/clients (unknown timezone)",
            create_client.sync_detailed(
                client=api, body=CreateClientRequest(name="Never Added", timezone="Mars/Olympus_Mons")
            ),
            422,
            Problem,
        )
        check(invalid.type_.endswith("/validation"), f"problem type {invalid.type_}")
        check(invalid.status == 422 and invalid.title and invalid.detail, "a problem field is empty")
        fields = [e.field for e in invalid.errors or []]
        check(fields == ["timezone"], f"the 422 names the fields {fields}")
        wrong = expect(
            "POST /v1/auth/token (wrong password)",
            create_token.sync_detailed(
                client=anonymous,
                body=TokenRequest(grant_type=GrantType.PASSWORD, username=email, password="not the password"),
            ),
            401,
            Problem,
        )
        check(wrong.error == "invalid_grant", f"wrong credentials give OAuth error {wrong.error}")

    print(f"python contract scenario: {steps} steps passed")


if __name__ == "__main__":
    try:
        main()
    except ScenarioError as e:
        print(f"FAILED: {e}", file=sys.stderr)
        sys.exit(1)
