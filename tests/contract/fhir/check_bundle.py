"""Independent validation of Rehabit's FHIR bundle (issue 19).

Drives a running service: signs up a clinic, gives a client homework from a built-in routine,
logs a session with pain (flagged) and a left/right measurement, records a PSFS response, then
fetches the client's bundle and checks it with fhir.resources' R4B models, which share nothing
with Rehabit's code:

- the Bundle and every entry's resource parse with the model class of its resourceType
  (types, cardinality, required elements, value sets bound as Python enums, the JSON rules);
- every entry's fullUrl is urn:uuid:<its id>, unique; every reference (and every canonical that
  names a urn:uuid) resolves to an entry of the bundle;
- a second fetch gives the same entries (ids stable across exports);
- the CodeSystem and StructureDefinitions the bundle uses are served without credentials and
  parse, and every Rehabit code in the bundle is defined in the CodeSystem.

Usage: REHABIT_BASE_URL=http://127.0.0.1:8080 python check_bundle.py
Exit status 0 when everything holds; the problems found otherwise.
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta, timezone

from fhir.resources.R4B import get_fhir_model_class
from fhir.resources.R4B.bundle import Bundle

BASE = os.environ.get("REHABIT_BASE_URL", "http://127.0.0.1:8080").rstrip("/")
CODE_SYSTEM = "https://rehabit.dev/fhir/CodeSystem/rehabit"


def call(method, path, token=None, body=None, want=(200, 201)):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(BASE + path, data=data, method=method)
    if data is not None:
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=60) as res:
            status, ctype, raw = res.status, res.headers.get("content-type"), res.read()
    except urllib.error.HTTPError as e:
        status, ctype, raw = e.code, e.headers.get("content-type"), e.read()
    if status not in want:
        sys.exit(f"{method} {path} answered {status}: {raw[:500]!r}")
    return (json.loads(raw) if raw else None), ctype


def record():
    """A clinic and a client with one of everything the bundle maps; returns (token, client id)."""
    stamp = f"{int(time.time())}-{os.getpid()}"
    email, password = f"fhir-{stamp}@gates.example", "fhir gates admin password"
    call("POST", "/v1/clinics", body={"clinic_name": "FHIR clinic",
                                      "admin": {"name": "Fhir Admin", "email": email, "password": password}})
    token = call("POST", "/v1/auth/token",
                 body={"grant_type": "password", "username": email, "password": password})[0]["access_token"]
    client = call("POST", "/v1/clients", token,
                  {"name": "Robin Fhir", "email": f"robin-{stamp}@gates.example", "timezone": "America/New_York"})[0]
    cid = client["id"]
    routine = call("GET", "/v1/routines?builtin=true&limit=1", token)[0]["items"][0]["id"]
    start = (datetime.now(timezone.utc) - timedelta(days=7)).date().isoformat()
    assignment = call("POST", f"/v1/clients/{cid}/assignments", token,
                      {"routine_id": routine,
                       "schedule": {"start_date": start, "days_of_week": ["mon", "wed", "fri"]}})[0]
    performed = (datetime.now(timezone.utc) - timedelta(hours=2)).isoformat()
    call("POST", f"/v1/assignments/{assignment['id']}/sessions", token, {
        "performed_at": performed, "duration_seconds": 1200, "pain_before": 3, "pain_after": 8,
        "entries": [{"assignment_item_id": assignment["items"][0]["id"], "completed": True}],
        "measurements": [{"kind": "hip_flexion_deg", "side": "left", "value": 95},
                         {"kind": "hip_flexion_deg", "side": "right", "value": 110},
                         {"kind": "timed_up_and_go_seconds", "side": "none", "value": 9.5}]})
    questionnaires = call("GET", "/v1/questionnaires?limit=100", token)[0]["items"]
    psfs = next(q for q in questionnaires if q["code"] == "psfs")
    qa = call("POST", f"/v1/clients/{cid}/questionnaire-assignments", token,
              {"questionnaire_id": psfs["id"], "schedule": {"start_date": start, "every": 2, "unit": "weeks"}})[0]
    answers = []
    for item in psfs["items"][:2]:
        kind = item.get("type") or item.get("kind")
        answers.append({"item_id": item["id"], "text": "Climbing stairs"} if kind == "text"
                       else {"item_id": item["id"], "value": 4})
    call("POST", f"/v1/questionnaire-assignments/{qa['id']}/responses", token, {"answers": answers})
    return token, cid


def references(value, out):
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "reference" and isinstance(v, str):
                out.append(v)
            elif k.endswith("Canonical") or k == "instantiatesCanonical":
                for c in v if isinstance(v, list) else [v]:
                    if isinstance(c, str) and c.startswith("urn:uuid:"):
                        out.append(c)
            else:
                references(v, out)
    elif isinstance(value, list):
        for v in value:
            references(v, out)


def codes(value, out):
    if isinstance(value, dict):
        if value.get("system") == CODE_SYSTEM and "code" in value:
            out.add(value["code"])
        for v in value.values():
            codes(v, out)
    elif isinstance(value, list):
        for v in value:
            codes(v, out)


def main():
    problems = []
    token, cid = record()
    bundle, ctype = call("GET", f"/v1/clients/{cid}/fhir", token)
    if not (ctype or "").startswith("application/fhir+json"):
        problems.append(f"content-type {ctype}")
    try:
        Bundle.model_validate(bundle)
    except Exception as e:  # the model library's own verdict, shown as it is
        problems.append(f"Bundle does not validate: {e}")
    entries = bundle.get("entry", [])
    urls, kinds = set(), {}
    for n, entry in enumerate(entries):
        res = entry.get("resource", {})
        kind = res.get("resourceType")
        kinds[kind] = kinds.get(kind, 0) + 1
        if entry.get("fullUrl") != f"urn:uuid:{res.get('id')}":
            problems.append(f"entry {n}: fullUrl {entry.get('fullUrl')} is not urn:uuid:{res.get('id')}")
        if entry.get("fullUrl") in urls:
            problems.append(f"entry {n}: fullUrl {entry.get('fullUrl')} twice")
        urls.add(entry.get("fullUrl"))
        try:
            get_fhir_model_class(kind).model_validate(res)
        except Exception as e:
            problems.append(f"entry {n} ({kind}/{res.get('id')}) does not validate: {e}")
    refs = []
    references(bundle, refs)
    for r in refs:
        if r not in urls:
            problems.append(f"reference {r} does not resolve inside the bundle")
    for kind in ["Patient", "Practitioner", "CarePlan", "ServiceRequest", "PlanDefinition", "ActivityDefinition",
                 "Procedure", "Observation", "QuestionnaireResponse", "Flag"]:
        if not kinds.get(kind):
            problems.append(f"no {kind} in the bundle")
    again, _ = call("GET", f"/v1/clients/{cid}/export?format=fhir", token)
    if sorted(e["fullUrl"] for e in again.get("entry", [])) != sorted(urls):
        problems.append("a second export gave other ids")

    # The definitions, public.
    used = set()
    codes(bundle, used)
    cs, _ = call("GET", "/v1/fhir/CodeSystem/rehabit")
    try:
        get_fhir_model_class("CodeSystem").model_validate(cs)
    except Exception as e:
        problems.append(f"CodeSystem does not validate: {e}")
    defined = {c["code"] for c in cs.get("concept", [])}
    for code in sorted(used - defined):
        problems.append(f"code {code} is used but not in the CodeSystem")
    for sd_id in ["dosage", "laterality"]:
        sd, _ = call("GET", f"/v1/fhir/StructureDefinition/{sd_id}")
        try:
            get_fhir_model_class("StructureDefinition").model_validate(sd)
        except Exception as e:
            problems.append(f"StructureDefinition {sd_id} does not validate: {e}")
    extensions = set()

    def ext_urls(v):
        if isinstance(v, dict):
            if "url" in v and ("extension" in v or any(k.startswith("value") for k in v)):
                if str(v["url"]).startswith("https://rehabit.dev/"):
                    extensions.add(v["url"])
            for x in v.values():
                ext_urls(x)
        elif isinstance(v, list):
            for x in v:
                ext_urls(x)

    ext_urls(bundle)
    for url in sorted(extensions):
        segment = url.rsplit("/", 1)[-1]
        call("GET", f"/v1/fhir/StructureDefinition/{segment}")

    summary = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
    print(f"FHIR bundle: {len(entries)} entries ({summary}); {len(refs)} references; "
          f"{len(used)} Rehabit codes; {len(extensions)} Rehabit extensions")
    if problems:
        print("\n".join(problems), file=sys.stderr)
        sys.exit(1)
    print("every resource validates with fhir.resources (R4B) and every reference resolves")


if __name__ == "__main__":
    main()
