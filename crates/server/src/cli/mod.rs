//! The operator's command line: `zeropass [serve]`, `migrate`, `check`, `backup`, `users ...`
//! and `keys ...`, parsed with clap. Every command reads the same environment (and
//! `.env`) as the server and refuses a wrong configuration the same way; the user commands are
//! the domain's [`ManageUsers`](zeropass_domain::ManageUsers) use case over the same
//! `UserRepository` port the server uses, so whatever they change, every running instance sees
//! at its next request; the key commands are the [`SigningKeys`](zeropass_domain::SigningKeys)
//! use case the instances reload their keys with. Exit codes are the contract's: 0 done, 1 no such user or key, 2 usage or
//! configuration error — always with one line on stderr saying why.

mod check;
mod database;
mod keys;
mod output;
mod users;

use crate::config::{Config, ConfigError};
use crate::environment::Environment;
use crate::{startup, telemetry};
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use zeropass_domain::{Email, KeyId, Provider, UserId, UserReference};

/// The version of this build, as `--version`, `/health` and the start-up line give it.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Why a command did not do what was asked; decides the exit code.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// No such user (or key). Exit 1.
    #[error("{0}")]
    NotFound(String),
    /// Bad usage, a wrong configuration, or a store that cannot serve. Exit 2.
    #[error("{0}")]
    Usage(String),
    /// A wrong configuration. Exit 2.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl Failure {
    fn exit_code(&self) -> ExitCode {
        match self {
            Self::NotFound(_) => ExitCode::from(1),
            Self::Usage(_) | Self::Config(_) => ExitCode::from(2),
        }
    }
}

/// zeropass: sign-in with Google or Facebook, no passwords.
///
/// Without a command, zeropass serves (as `zeropass serve`). Every command reads the
/// configuration from the environment and from a `.env` file in the working directory.
#[derive(Debug, Parser)]
#[command(
    name = "zeropass",
    version,
    after_help = "Examples:\n  zeropass                          serve with the configuration of the environment\n  zeropass check                    validate the configuration before a deploy\n  zeropass users list --json        every user, as JSON\n  zeropass users disable ID          block a user at every instance's next request\n  zeropass keys rotate --now        sign with a new key at once (after a compromise)\n\nExit codes: 0 done, 1 no such user or key, 2 usage or configuration error."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (the default without a command).
    #[command(
        after_help = "Example:\n  BIND_ADDR=0.0.0.0:8080 PUBLIC_URL=https://auth.example.com zeropass serve"
    )]
    Serve,
    /// Create or migrate the database schema, then exit.
    ///
    /// Run it before starting a new version on a database that older instances still use.
    #[command(
        after_help = "Example:\n  DATABASE_URL=sqlite:///var/lib/zeropass/zeropass.db zeropass migrate"
    )]
    Migrate,
    /// Validate the configuration, the database and the providers; exit 0, or 2 with the reasons.
    ///
    /// One line per check: configuration, database reachable and migrated (it is never created
    /// or migrated by `check`), each configured provider reachable, PUBLIC_URL's scheme against
    /// Secure cookies.
    #[command(after_help = "Example:\n  zeropass check && systemctl restart zeropass")]
    Check,
    /// Write a consistent copy of the SQLite database to PATH, also while servers run.
    ///
    /// PATH must not exist: a backup never overwrites a file.
    #[command(after_help = "Example:\n  zeropass backup /var/backups/zeropass-$(date +%F).db")]
    Backup {
        /// Where to write the copy (must not exist).
        path: PathBuf,
    },
    /// List, show, disable, enable or delete users.
    #[command(
        subcommand,
        after_help = "Example:\n  zeropass users show ada@example.com --provider google"
    )]
    Users(UsersCommand),
    /// List, rotate or revoke the signing keys (JWT_ALGORITHM=ES256 or EdDSA).
    ///
    /// Every instance sharing the database picks a change up within JWT_KEY_RELOAD_SECONDS.
    #[command(subcommand, after_help = "Example:\n  zeropass keys list --json")]
    Keys(KeysCommand),
}

#[derive(Debug, Subcommand)]
enum UsersCommand {
    /// List users, in id order, as a table or (--json) a JSON array.
    ///
    /// The listing streams: it starts printing at once and uses the same memory for ten users
    /// or ten million.
    #[command(
        after_help = "Examples:\n  zeropass users list --provider facebook --limit 20\n  zeropass users list --json | jq -r '.[].id'"
    )]
    List(ListArgs),
    /// Show one user, by id or by email.
    ///
    /// An email that belongs to users of both providers needs --provider.
    #[command(
        after_help = "Examples:\n  zeropass users show 0123abcd-0000-4000-8000-00000000cdef\n  zeropass users show ada@example.com --provider google --json"
    )]
    Show {
        /// The user's id (a UUID) or email.
        #[arg(value_name = "ID|EMAIL", value_parser = UserReference::parse)]
        user: UserReference,
        /// The provider of the user, when an email is given.
        #[arg(long, value_name = "P", value_parser = parse_provider)]
        provider: Option<Provider>,
        /// Print the user as a JSON object (the API's user shape).
        #[arg(long)]
        json: bool,
    },
    /// Disable a user: refused (403 account_disabled) at every instance's next request.
    #[command(
        after_help = "Example:\n  zeropass users disable 0123abcd-0000-4000-8000-00000000cdef"
    )]
    Disable {
        /// The user's id.
        #[arg(value_name = "ID", value_parser = parse_user_id)]
        id: UserId,
    },
    /// Enable a disabled user again.
    #[command(
        after_help = "Example:\n  zeropass users enable 0123abcd-0000-4000-8000-00000000cdef"
    )]
    Enable {
        /// The user's id.
        #[arg(value_name = "ID", value_parser = parse_user_id)]
        id: UserId,
    },
    /// Delete a user (right to erasure), active or not, as DELETE /users/me does.
    ///
    /// Asks for confirmation on a terminal; otherwise --yes is required.
    #[command(
        after_help = "Example:\n  zeropass users delete 0123abcd-0000-4000-8000-00000000cdef --yes"
    )]
    Delete {
        /// The user's id.
        #[arg(value_name = "ID", value_parser = parse_user_id)]
        id: UserId,
        /// Delete without asking.
        #[arg(long)]
        yes: bool,
    },
}

#[derive(Debug, Args)]
struct ListArgs {
    /// Only the users of this provider (google or facebook).
    #[arg(long, value_name = "P", value_parser = parse_provider)]
    provider: Option<Provider>,
    /// Only the users with this email.
    #[arg(long, value_name = "E", value_parser = Email::parse)]
    email: Option<Email>,
    /// At most N users.
    #[arg(long, value_name = "N")]
    limit: Option<u64>,
    /// Print a JSON array of users (the API's user shape) instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// List the signing keys: kid, algorithm, state (next, current, retired), created,
    /// activates, expires.
    ///
    /// `next` is published and signs from ACTIVATES; `current` signs; `retired` stays published
    /// until EXPIRES (`-`, or null in JSON, while no later key has replaced it).
    #[command(
        after_help = "Examples:\n  zeropass keys list\n  zeropass keys list --json | jq -r '.[] | select(.state == \"current\") | .kid'"
    )]
    List {
        /// Print a JSON array of keys (kid, alg, state, created_at, activates_at, expires_at).
        #[arg(long)]
        json: bool,
    },
    /// Publish a new signing key; it signs once every verifier's cached JWKS can hold it.
    ///
    /// With --now it signs at once: for after a compromise, followed by `keys revoke` of the
    /// old key (tokens of the new key may be refused by verifiers until they refetch the JWKS).
    #[command(after_help = "Examples:\n  zeropass keys rotate\n  zeropass keys rotate --now")]
    Rotate {
        /// Sign with it at once (after a compromise).
        #[arg(long)]
        now: bool,
    },
    /// Unpublish a key at once: the tokens it signed stop working.
    ///
    /// Revoking the key that signs makes the instances sign with a fresh key.
    #[command(after_help = "Example:\n  zeropass keys revoke q3bF1cV9Q0yLr8mZ2aT7xw")]
    Revoke {
        /// The key's id (22 characters, as `keys list` shows it).
        #[arg(value_name = "KID", value_parser = KeyId::parse)]
        kid: KeyId,
    },
}

fn parse_provider(raw: &str) -> Result<Provider, String> {
    raw.parse()
        .map_err(|_| "expected google or facebook".to_owned())
}

fn parse_user_id(raw: &str) -> Result<UserId, zeropass_domain::InvalidUserReference> {
    zeropass_domain::parse_user_id(raw)
}

/// Parses the command line. `--help` and `--version` print and exit 0 here, before anything
/// is read or opened; a usage error prints one line and exits 2.
pub fn parse() -> Cli {
    match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => exit_on_parse_error(&error),
    }
}

fn exit_on_parse_error(error: &clap::Error) -> ! {
    use clap::error::ErrorKind;
    match error.kind() {
        // Help, version, and `zeropass users` alone (which shows the sub-commands).
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = error.print();
            std::process::exit(error.exit_code())
        }
        _ => {
            // clap's first paragraph, on one line ("... not provided: <ID>").
            let rendered = error.render().to_string();
            let reason = rendered
                .lines()
                .map(str::trim)
                .skip_while(|line| line.is_empty())
                .take_while(|line| !line.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            let reason = reason.trim_start_matches("error: ");
            eprintln!("zeropass: {reason} (see zeropass --help)");
            std::process::exit(2)
        }
    }
}

/// Runs the parsed command; what the process exits with.
pub fn run(cli: Cli, environment: &Environment) -> ExitCode {
    let command = cli.command.unwrap_or(Command::Serve);
    let name = command.name();
    match command.run(environment) {
        Ok(()) => ExitCode::SUCCESS,
        Err(failure) => {
            if name == "serve" {
                // The line a failed start has always printed.
                eprintln!("zeropass: cannot start: {failure}");
            } else {
                eprintln!("zeropass {name}: {failure}");
            }
            failure.exit_code()
        }
    }
}

impl Command {
    fn name(&self) -> &'static str {
        match self {
            Self::Serve => "serve",
            Self::Migrate => "migrate",
            Self::Check => "check",
            Self::Backup { .. } => "backup",
            Self::Users(UsersCommand::List(_)) => "users list",
            Self::Users(UsersCommand::Show { .. }) => "users show",
            Self::Users(UsersCommand::Disable { .. }) => "users disable",
            Self::Users(UsersCommand::Enable { .. }) => "users enable",
            Self::Users(UsersCommand::Delete { .. }) => "users delete",
            Self::Keys(KeysCommand::List { .. }) => "keys list",
            Self::Keys(KeysCommand::Rotate { .. }) => "keys rotate",
            Self::Keys(KeysCommand::Revoke { .. }) => "keys revoke",
        }
    }

    fn run(self, environment: &Environment) -> Result<(), Failure> {
        if let Self::Check = self {
            // `check` reports a wrong configuration as one of its lines instead of stopping.
            return block_on(check::run(Config::from_env()));
        }
        let config = Config::from_env()?;
        telemetry::init(&config.log_filter, config.log_format)
            .map_err(|problem| ConfigError::new("RUST_LOG", problem))?;
        environment.warn_about_unknown_names();
        match self {
            Self::Serve => {
                tracing::info!(version = VERSION, "zeropass {VERSION} starting");
                block_on(startup::serve(config)).map_err(Failure::from)
            }
            Self::Migrate => block_on(database::migrate(&config)),
            Self::Backup { path } => database::backup(&config, &path),
            Self::Users(command) => block_on(users::run(&config, command)),
            Self::Keys(command) => block_on(keys::run(&config, command)),
            Self::Check => Ok(()),
        }
    }
}

/// Runs a future to completion on the same single-threaded runtime the server uses.
fn block_on<T>(future: impl Future<Output = T>) -> T {
    actix_web::rt::System::new().block_on(future)
}
