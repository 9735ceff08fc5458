"""Independent check of Rehabit's calendar feeds (issue 17) against its agenda.

Drives a running service: signs up a clinic, makes clients in several timezones (one in the
southern hemisphere, one with a half-hour offset, one without daylight time), gives each
homework that crosses daylight-saving changes (back-dated six months, with reminder times, one
of them in a spring-forward gap, several sessions a day), ends some (an end date, completion,
cancellation) and pauses one (an open pause), makes each client's feed, then expands the feed
with `icalendar` + `recurring-ical-events` (which share nothing with Rehabit's code) over twelve
months and compares it, day by day, with `GET /v1/clients/{id}/agenda`: the same
(date, assignment, slot) triples, none missing, none extra. It also checks that the feed
parses, that UIDs are stable between two fetches, that `If-None-Match` answers 304 and that a
revoked feed answers 404.

Usage: REHABIT_BASE_URL=http://127.0.0.1:8080 python check_feed.py
Exit status 0 when everything holds; the differences found otherwise.
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request
from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import icalendar
import recurring_ical_events

BASE = os.environ.get("REHABIT_BASE_URL", "http://127.0.0.1:8080").rstrip("/")
# (timezone, days of week, times per day, reminder times, how it ends)
CASES = [
    ("Europe/London", ["mon", "wed", "fri"], 1, ["01:30"], None),  # 01:30 is in London's gap
    ("America/New_York", [], 2, ["02:30", "19:00"], "end_date"),  # 02:30 is in New York's gap
    ("Australia/Sydney", ["tue", "sat"], 3, ["07:00"], "pause"),
    ("Asia/Kolkata", ["sun"], 1, [], "completed"),
    ("America/St_Johns", ["mon", "thu"], 2, [], "cancelled"),
    ("Pacific/Auckland", [], 1, ["21:15"], None),
]
WINDOW_BACK, WINDOW_AHEAD = 180, 185  # twelve months around today


def call(method, path, token=None, body=None, headers=None, want=(200, 201, 204)):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(BASE + path, data=data, method=method)
    if data is not None:
        req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=60) as res:
            status, hdrs, raw = res.status, res.headers, res.read()
    except urllib.error.HTTPError as e:
        status, hdrs, raw = e.code, e.headers, e.read()
    if status not in want:
        sys.exit(f"{method} {path} answered {status}: {raw[:500]!r}")
    return status, hdrs, raw


def js(method, path, token=None, body=None):
    _, _, raw = call(method, path, token, body)
    return json.loads(raw) if raw else None


def path_of(url):
    return url[url.index("/v1/calendar/"):]


def agenda(token, cid, first, last):
    """(date, assignment id, slot) for every occurrence in [first, last], 90 days at a time."""
    out = set()
    day = first
    while day <= last:
        to = min(last, day + timedelta(days=89))
        a = js("GET", f"/v1/clients/{cid}/agenda?from={day.isoformat()}&to={to.isoformat()}", token)
        for d in a["days"]:
            for o in d["occurrences"]:
                out.add((d["date"], o["assignment_id"], int(o["slot"])))
        day = to + timedelta(days=1)
    return out


def expand(ics_bytes, tz, first, last):
    cal = icalendar.Calendar.from_ical(ics_bytes)
    out = set()
    zone = ZoneInfo(tz)
    for event in recurring_ical_events.of(cal).between(first, last + timedelta(days=1)):
        uid = str(event["UID"])
        assignment, slot = uid.removesuffix("@rehabit").rsplit("-", 1)
        start = event["DTSTART"].dt
        local = start.astimezone(zone).date() if isinstance(start, datetime) else start
        if first <= local <= last:
            out.add((local.isoformat(), assignment, int(slot)))
    return out


def main():
    problems = []
    stamp = f"{int(time.time())}-{os.getpid()}"
    email, password = f"cal-{stamp}@gates.example", "calendar gates admin password"
    call("POST", "/v1/clinics", body={"clinic_name": "Calendar clinic",
                                      "admin": {"name": "Cal Admin", "email": email, "password": password}})
    token = js("POST", "/v1/auth/token",
               body={"grant_type": "password", "username": email, "password": password})["access_token"]
    routine = js("GET", "/v1/routines?builtin=true&limit=1", token)["items"][0]["id"]
    checked = 0
    for i, (tz, days, times, reminders, ending) in enumerate(CASES):
        client = js("POST", "/v1/clients", token, {"name": f"Client {i}", "timezone": tz})
        cid = client["id"]
        today = datetime.now(ZoneInfo(tz)).date()
        schedule = {"start_date": (today - timedelta(days=WINDOW_BACK - 10)).isoformat(),
                    "days_of_week": days, "times_per_day": times, "reminder_times": reminders}
        if ending == "end_date":
            schedule["end_date"] = (today + timedelta(days=120)).isoformat()
        a = js("POST", f"/v1/clients/{cid}/assignments", token, {"routine_id": routine, "schedule": schedule})
        # A second, open-ended assignment every day for each client, started later.
        js("POST", f"/v1/clients/{cid}/assignments", token, {"routine_id": routine, "schedule": {
            "start_date": (today - timedelta(days=30)).isoformat(), "days_of_week": []}})
        if ending in ("pause", "completed", "cancelled"):
            status = {"pause": "paused"}.get(ending, ending)
            call("PATCH", f"/v1/assignments/{a['id']}", token, {"status": status},
                 headers={"content-type": "application/merge-patch+json"})
        feed = js("POST", f"/v1/clients/{cid}/calendar", token)
        first, last = today - timedelta(days=WINDOW_BACK), today + timedelta(days=WINDOW_AHEAD)
        _, hdrs, ics = call("GET", path_of(feed["url"]))
        want = agenda(token, cid, first, last)
        got = expand(ics, tz, first, last)
        if not want:
            problems.append(f"{tz}: the agenda is empty, nothing was compared")
        missing, extra = sorted(want - got), sorted(got - want)
        if missing or extra:
            problems.append(f"{tz} ({ending}): {len(missing)} agenda occurrences not in the feed "
                            f"(first {missing[:3]}), {len(extra)} feed occurrences not in the agenda "
                            f"(first {extra[:3]})")
        checked += len(want)
        # Stable UIDs and a cheap poll.
        _, again_hdrs, again = call("GET", path_of(feed["url"]))
        uids = lambda b: sorted(str(e["UID"]) for e in icalendar.Calendar.from_ical(b).walk("VEVENT"))
        if uids(ics) != uids(again):
            problems.append(f"{tz}: UIDs changed between two fetches")
        status, _, _ = call("GET", path_of(feed["url"]), headers={"if-none-match": hdrs["etag"]}, want=(200, 304))
        if status != 304:
            problems.append(f"{tz}: If-None-Match with the current ETag answered {status}, not 304")
    # Revoked: 404.
    call("DELETE", f"/v1/clients/{cid}/calendar", token)
    call("GET", path_of(feed["url"]), want=(404,))
    if problems:
        print("calendar feed check failed:")
        for p in problems:
            print(" -", p)
        sys.exit(1)
    print(f"calendar feeds: {len(CASES)} clients, {checked} occurrences over 12 months match the agenda day by day")


if __name__ == "__main__":
    main()
