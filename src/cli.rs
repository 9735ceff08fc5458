//! The command line: `rehabit [serve|migrate|openapi|demo|user|audit]`, with `--help` on every
//! subcommand and `--version`. Bad arguments exit with status 2 and say what is wrong.

use crate::audit::chain::Head;
use crate::demo::{self, MAX_CLIENTS, MAX_WEEKS};
use clap::{Args, Parser, Subcommand};

/// API-first home exercise programs for physiotherapy, massage and yoga-therapy clinics.
///
/// Every command reads its settings from the environment (DATABASE_URL, BIND_ADDR, JWT_SECRET,
/// ...; see the README). Without a command, `rehabit` serves the API.
#[derive(Debug, Parser)]
#[command(name = "rehabit", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand, PartialEq)]
pub enum Command {
    /// Serve the API (the default): create the database if missing, migrate, install the
    /// built-in library, then listen on BIND_ADDR
    Serve,
    /// Create the database if missing, apply pending migrations and install the built-in
    /// library, then exit
    Migrate,
    /// Print the OpenAPI document (what openapi/openapi.json holds)
    Openapi,
    /// Fill a new demo clinic with plausible data and print its logins and curl lines to try
    ///
    /// Creates a new demo clinic in the database at DATABASE_URL (creating the database and
    /// running migrations if needed). Every run makes a new clinic.
    Demo(DemoArgs),
    /// The operator's actions on logins
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// The audit trail
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

#[derive(Debug, Args, PartialEq)]
pub struct DemoArgs {
    /// Clients to create, 1-100000 (the first 3 get logins)
    #[arg(long, value_name = "N", default_value_t = 3,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_CLIENTS)))]
    pub clients: u32,
    /// Weeks of session logs up to yesterday, 1-52
    #[arg(long, value_name = "W", default_value_t = 6,
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_WEEKS)))]
    pub weeks: u32,
    /// Seed of the generated data, a whole number
    #[arg(long, value_name = "S", default_value_t = demo::DEFAULT_SEED)]
    pub seed: u64,
    /// Print one JSON object (logins, ids, row counts, time taken) instead of text
    #[arg(long)]
    pub json: bool,
}

impl DemoArgs {
    pub fn options(&self) -> demo::Options {
        demo::Options {
            clients: self.clients,
            weeks: self.weeks,
            seed: self.seed,
            json: self.json,
        }
    }
}

#[derive(Debug, Subcommand, PartialEq)]
pub enum UserCommand {
    /// Set a new password for the login with this email and end all its sign-ins
    ///
    /// Sets a new password for the login with this email and ends all its sign-ins, in every
    /// clinic. This is how the password of a login shared by clinics is reset (no clinic may
    /// reset it). Without --password-stdin a random password is generated and printed once.
    ResetPassword {
        /// The login's email
        email: String,
        /// Read the new password (at least 10 characters) from the first line of standard
        /// input, so it never appears in the process list or the shell history
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand, PartialEq)]
pub enum AuditCommand {
    /// Recompute the audit hash chains and name the first altered or removed event
    ///
    /// Recomputes each clinic's audit hash chain (or one clinic's) and names the first event
    /// that was altered or removed. Every head the service published (audit_heads) is checked,
    /// and so is each --head given, as the log line `audit chain head` printed it. Exit status
    /// 0 when every chain holds, 1 when one does not, 2 for bad arguments.
    Verify {
        /// Check only this clinic's chain
        #[arg(long, value_name = "ID")]
        clinic: Option<uuid::Uuid>,
        /// A published head to check, as `audit chain head` logged it (may be repeated)
        #[arg(long = "head", value_name = "CLINIC:COUNT:HASH", value_parser = parse_head)]
        heads: Vec<Head>,
    },
}

impl Cli {
    /// The command to run: `serve` when none is given.
    pub fn into_command(self) -> Command {
        self.command.unwrap_or(Command::Serve)
    }
}

/// `CLINIC_ID:COUNT:HASH`, as the `audit chain head` log line gives them (hash in hex).
fn parse_head(s: &str) -> Result<Head, String> {
    let wrong = || "expected CLINIC_ID:COUNT:HASH (a UUID, a count, 64 hex digits)".to_string();
    let mut parts = s.split(':');
    let clinic_id = parts.next().and_then(|p| p.parse().ok()).ok_or_else(wrong)?;
    let seq = parts.next().and_then(|p| p.parse().ok()).ok_or_else(wrong)?;
    let hash = parts
        .next()
        .and_then(|p| hex::decode(p).ok())
        .filter(|h| h.len() == 32)
        .ok_or_else(wrong)?;
    if parts.next().is_some() {
        return Err(wrong());
    }
    Ok(Head { clinic_id, seq, hash })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use clap::error::ErrorKind;

    fn parse(line: &str) -> Result<Command, clap::Error> {
        Cli::try_parse_from(std::iter::once("rehabit").chain(line.split_whitespace())).map(Cli::into_command)
    }

    #[test]
    fn the_definition_is_consistent() {
        <Cli as CommandFactory>::command().debug_assert();
    }

    #[test]
    fn serve_is_the_default_and_every_command_parses() {
        assert_eq!(parse("").ok(), Some(Command::Serve));
        assert_eq!(parse("serve").ok(), Some(Command::Serve));
        assert_eq!(parse("migrate").ok(), Some(Command::Migrate));
        assert_eq!(parse("openapi").ok(), Some(Command::Openapi));
        assert_eq!(
            parse("user reset-password ana@example.com --password-stdin").ok(),
            Some(Command::User {
                command: UserCommand::ResetPassword {
                    email: "ana@example.com".into(),
                    password_stdin: true
                }
            })
        );
        let hash = "ab".repeat(32);
        let clinic = "0192f0c4-8a4e-7cc0-9b5e-3f1a2b3c4d5e";
        let Ok(Command::Audit {
            command: AuditCommand::Verify {
                clinic: Some(id),
                heads,
            },
        }) = parse(&format!(
            "audit verify --clinic {clinic} --head {clinic}:12:{hash} --head {clinic}:13:{hash}"
        ))
        else {
            panic!("audit verify did not parse");
        };
        assert_eq!(id.to_string(), clinic);
        assert_eq!(heads.iter().map(|h| h.seq).collect::<Vec<_>>(), [12, 13]);
    }

    #[test]
    fn demo_options_have_defaults_and_take_both_spellings() {
        let Ok(Command::Demo(defaults)) = parse("demo") else {
            panic!("demo did not parse");
        };
        assert_eq!(defaults.options(), demo::Options::default());
        let Ok(Command::Demo(given)) = parse("demo --clients 2000 --weeks=12 --seed 9 --json") else {
            panic!("demo with options did not parse");
        };
        assert_eq!(
            given.options(),
            demo::Options {
                clients: 2000,
                weeks: 12,
                seed: 9,
                json: true
            }
        );
    }

    #[test]
    fn bad_arguments_say_what_is_wrong() {
        for (given, says) in [
            ("demo --clients", "a value is required"),
            ("demo --clients 0", "0 is not in 1..=100000"),
            ("demo --clients many", "many"),
            ("demo --weeks 53", "53 is not in 1..=52"),
            ("demo --seed -1", "-1"),
            ("demo --json=yes", "--json"),
            ("demo --client 3", "--client"),
            ("demo extra", "extra"),
            ("user reset-password", "<EMAIL>"),
            ("user reset-password -x", "-x"),
            ("audit verify --clinic nope", "nope"),
            ("audit verify --head 1:2:3", "CLINIC_ID:COUNT:HASH"),
            ("audit", "verify"),
            ("bake", "bake"),
        ] {
            let err = parse(given).expect_err(given);
            assert_ne!(err.kind(), ErrorKind::DisplayHelp, "{given}");
            assert_eq!(err.exit_code(), 2, "{given}");
            let text = err.to_string();
            assert!(text.contains(says), "{given}: {text}");
        }
    }

    #[test]
    fn every_subcommand_has_help_and_the_tool_a_version() {
        for line in [
            "--help",
            "serve --help",
            "migrate --help",
            "openapi --help",
            "demo --help",
            "user --help",
            "user reset-password --help",
            "audit --help",
            "audit verify --help",
            "help demo",
        ] {
            let err = parse(line).expect_err(line);
            assert_eq!(err.kind(), ErrorKind::DisplayHelp, "{line}");
            assert_eq!(err.exit_code(), 0, "{line}");
        }
        let version = parse("--version").expect_err("--version");
        assert_eq!(version.kind(), ErrorKind::DisplayVersion);
        assert_eq!(
            version.to_string().trim(),
            format!("rehabit {}", env!("CARGO_PKG_VERSION"))
        );
    }
}
