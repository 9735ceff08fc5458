//! How `rehabit demo` says what it made: a page for people (logins and curl lines to try), or
//! one JSON object for scripts such as `bench/run.sh`.

use super::Report;
use chrono::{Duration, Utc};
use serde_json::{Value, json};
use std::fmt::Write;

/// The URL a server listening on `bind_addr` answers on from this machine.
pub fn base_url(bind_addr: &str) -> String {
    let addr = bind_addr.trim();
    let local = if let Some(port) = addr.strip_prefix("0.0.0.0:") {
        format!("127.0.0.1:{port}")
    } else if let Some(port) = addr.strip_prefix("[::]:") {
        format!("[::1]:{port}")
    } else {
        addr.to_string()
    };
    format!("http://{local}")
}

impl Report {
    /// Occurrences due before today that have no log.
    pub fn missed(&self) -> u64 {
        self.scheduled - self.done
    }

    /// Everything a script needs, as one JSON object.
    pub fn to_json(&self, base_url: &str) -> Value {
        json!({
            "clinic": {"id": self.clinic_id, "name": self.clinic_name},
            "base_url": base_url,
            "seed": self.seed,
            "weeks": self.weeks,
            "logins": {
                "admin": self.admin,
                "practitioner": self.practitioner,
                "clients": self.client_logins,
            },
            "client_ids": self.client_ids,
            "counts": self.counts,
            "rows": self.counts.total(),
            "occurrences": {"scheduled": self.scheduled, "done": self.done, "missed": self.missed()},
            "flagged_sessions": self.flagged,
            "elapsed_ms": u64::try_from(self.elapsed_ms).unwrap_or(u64::MAX),
        })
    }

    /// The page people read: what was made, the logins, and curl lines to try.
    pub fn to_text(&self, base_url: &str) -> String {
        let mut out = String::new();
        let percent = if self.scheduled == 0 {
            0.0
        } else {
            100.0 * self.done as f64 / self.scheduled as f64
        };
        let clients = self.client_ids.len();
        let _ = writeln!(
            out,
            "Demo clinic \"{}\" is ready (id {}).",
            self.clinic_name, self.clinic_id
        );
        let _ = writeln!(
            out,
            "{clients} client{} with {} weeks of hip homework: {} of {} sessions done ({percent:.0}%), {} flagged for review.",
            if clients == 1 { "" } else { "s" },
            self.weeks,
            self.done,
            self.scheduled,
            self.flagged,
        );
        let _ = writeln!(
            out,
            "Inserted {} rows in {:.1} s (seed {}).",
            self.counts.total(),
            self.elapsed_ms as f64 / 1000.0,
            self.seed
        );
        let _ = writeln!(out, "\nLogins (the password of each is {}):", self.admin.password);
        let _ = writeln!(out, "  admin          {:<14} {}", self.admin.name, self.admin.email);
        let _ = writeln!(
            out,
            "  practitioner   {:<14} {}",
            self.practitioner.name, self.practitioner.email
        );
        for c in &self.client_logins {
            let _ = writeln!(
                out,
                "  client         {:<14} {:<36} {:<18} client id {}",
                c.name, c.email, c.timezone, c.client_id
            );
        }
        if clients > self.client_logins.len() {
            let _ = writeln!(
                out,
                "  ... and {} more clients without logins (`--json` lists every id).",
                clients - self.client_logins.len()
            );
        }

        let client = self.client_ids.first().map(|id| id.to_string()).unwrap_or_default();
        let today = Utc::now().date_naive();
        let from = today - Duration::days(27);
        let auth = "-H \"Authorization: Bearer $TOKEN\"";
        let _ = writeln!(
            out,
            "\nTry it with the service running (`cargo run --release`) at {base_url}:\n"
        );
        let _ = writeln!(
            out,
            "  TOKEN=$(curl -s {base_url}/v1/auth/token -H 'content-type: application/json' \\\n    \
             -d '{{\"grant_type\": \"password\", \"username\": \"{}\", \"password\": \"{}\"}}' \\\n    \
             | sed -E 's/.*\"access_token\":\"([^\"]+)\".*/\\1/')",
            self.admin.email, self.admin.password
        );
        let _ = writeln!(out, "  curl -s {base_url}/v1/clients {auth}");
        let _ = writeln!(
            out,
            "  curl -s '{base_url}/v1/clients/{client}/agenda?from={from}&to={today}' {auth}"
        );
        let _ = writeln!(out, "  curl -s {base_url}/v1/clients/{client}/progress {auth}");
        let _ = writeln!(out, "  curl -s {base_url}/v1/clients/{client}/outcomes {auth}");
        let _ = writeln!(out, "  curl -s {base_url}/v1/clients/{client}/monitoring {auth}");
        let _ = writeln!(
            out,
            "  curl -s '{base_url}/v1/sessions?flagged=true&reviewed=false' {auth}"
        );
        let _ = writeln!(
            out,
            "\nClients sign in the same way with their own email, then read /v1/me/agenda,\n\
             /v1/me/assignments and /v1/me/sessions, and log today's session with\n\
             POST /v1/assignments/{{id}}/sessions."
        );
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::demo::{ClientLogin, Counts, Login};
    use uuid::Uuid;

    fn report() -> Report {
        let login = |name: &str, email: &str| Login {
            name: name.into(),
            email: email.into(),
            password: crate::demo::PASSWORD.into(),
        };
        Report {
            clinic_id: Uuid::from_u128(1),
            clinic_name: "Rehabit demo clinic abc234".into(),
            seed: 7,
            weeks: 6,
            admin: login("Ana Ruiz", "ana.ruiz@demo-abc234.example"),
            practitioner: login("Pat Morgan", "pat.morgan@demo-abc234.example"),
            client_logins: vec![ClientLogin {
                client_id: Uuid::from_u128(2),
                name: "Sam Lee".into(),
                email: "sam.lee@demo-abc234.example".into(),
                password: crate::demo::PASSWORD.into(),
                timezone: "Europe/London".into(),
            }],
            client_ids: vec![Uuid::from_u128(2), Uuid::from_u128(3)],
            counts: Counts {
                clinics: 1,
                session_logs: 40,
                ..Counts::default()
            },
            scheduled: 50,
            done: 40,
            flagged: 1,
            elapsed_ms: 1234,
        }
    }

    #[test]
    fn base_urls_point_at_this_machine() {
        assert_eq!(base_url("127.0.0.1:8080"), "http://127.0.0.1:8080");
        assert_eq!(base_url("0.0.0.0:9000"), "http://127.0.0.1:9000");
        assert_eq!(base_url("[::]:80"), "http://[::1]:80");
    }

    #[test]
    fn the_page_has_the_logins_and_the_curl_lines() {
        let text = report().to_text("http://127.0.0.1:8080");
        for needle in [
            "ana.ruiz@demo-abc234.example",
            "sam.lee@demo-abc234.example",
            crate::demo::PASSWORD,
            "40 of 50 sessions done (80%), 1 flagged",
            "1 more clients without logins",
            "/v1/auth/token",
            "/v1/clients/00000000-0000-0000-0000-000000000002/agenda?from=",
            "/v1/clients/00000000-0000-0000-0000-000000000002/progress",
            "/v1/sessions?flagged=true&reviewed=false",
        ] {
            assert!(text.contains(needle), "missing {needle:?} in\n{text}");
        }
        assert_eq!(text.matches("curl -s").count(), 7);
    }

    #[test]
    fn the_json_has_what_scripts_need() {
        let v = report().to_json("http://127.0.0.1:8080");
        assert_eq!(v["logins"]["admin"]["email"], "ana.ruiz@demo-abc234.example");
        assert_eq!(v["logins"]["clients"][0]["client_id"], Uuid::from_u128(2).to_string());
        assert_eq!(v["client_ids"].as_array().map(Vec::len), Some(2));
        assert_eq!(v["counts"]["session_logs"], 40);
        assert_eq!(v["rows"], 41);
        assert_eq!(v["occurrences"]["missed"], 10);
        assert_eq!(v["elapsed_ms"], 1234);
    }
}
