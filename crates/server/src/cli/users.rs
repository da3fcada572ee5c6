//! `zeropass users ...`: each sub-command is one call of the domain's `ManageUsers` use case
//! over the server's own `UserRepository` adapter, printed for people or for scripts. A change
//! is written to the database at once and logged (user id and action, never the email).

use super::output::{Format, ListWriter, write_user};
use super::{Failure, UsersCommand, database};
use crate::config::Config;
use std::io::{BufRead, IsTerminal, Write};
use zeropass_domain::{
    ListUsersError, ManageUsers, ManageUsersError, User, UserFilter, UserReference,
};

pub(crate) async fn run(config: &Config, command: UsersCommand) -> Result<(), Failure> {
    // Refused before the database is even opened: nothing can change without a confirmation.
    if let UsersCommand::Delete { yes: false, .. } = command
        && !std::io::stdin().is_terminal()
    {
        return Err(Failure::Usage(
            "stdin is not a terminal, so nobody can confirm: pass --yes to delete".into(),
        ));
    }
    let users = ManageUsers::new(database::open_for_users(config).await?.users());
    let stdout = std::io::stdout();
    match command {
        UsersCommand::List(args) => {
            let filter = UserFilter {
                provider: args.provider,
                email: args.email,
            };
            let mut writer = ListWriter::new(stdout.lock(), Format::json_if(args.json));
            writer.begin().map_err(output_failed)?;
            users
                .list(&filter, args.limit, |page| writer.page(page))
                .await
                .map_err(|error| match error {
                    ListUsersError::Repository(error) => store_failed(&error),
                    ListUsersError::Output(error) => output_failed(error),
                })?;
            writer.finish().map_err(output_failed)
        }
        UsersCommand::Show {
            user,
            provider,
            json,
        } => {
            let user = users.show(&user, provider).await.map_err(failure)?;
            write_user(&mut stdout.lock(), &user, Format::json_if(json)).map_err(output_failed)
        }
        UsersCommand::Disable { id } => {
            users.set_active(id, false).await.map_err(failure)?;
            println!("user {id} disabled");
            Ok(())
        }
        UsersCommand::Enable { id } => {
            users.set_active(id, true).await.map_err(failure)?;
            println!("user {id} enabled");
            Ok(())
        }
        UsersCommand::Delete { id, yes } => {
            let user = users
                .show(&UserReference::Id(id), None)
                .await
                .map_err(failure)?;
            if !yes && !confirmed(&user)? {
                return Err(Failure::Usage("not confirmed: nothing deleted".into()));
            }
            users.delete(id).await.map_err(failure)?;
            println!("user {id} deleted");
            Ok(())
        }
    }
}

/// Asks on the terminal whether to delete `user`; only `y` or `yes` confirm.
fn confirmed(user: &User) -> Result<bool, Failure> {
    let mut stderr = std::io::stderr();
    write!(
        stderr,
        "Delete user {} ({}, {})? This cannot be undone. [y/N] ",
        user.id, user.email, user.provider
    )
    .and_then(|()| stderr.flush())
    .map_err(output_failed)?;
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(output_failed)?;
    Ok(matches!(
        answer.trim().to_ascii_lowercase().as_str(),
        "y" | "yes"
    ))
}

fn failure(error: ManageUsersError) -> Failure {
    match error {
        ManageUsersError::NotFound => Failure::NotFound("no such user".into()),
        ManageUsersError::Ambiguous(_) => Failure::Usage(format!(
            "{error}: pass --provider google or --provider facebook"
        )),
        ManageUsersError::Repository(error) => store_failed(&error),
    }
}

fn store_failed(error: &zeropass_domain::RepositoryError) -> Failure {
    // The full chain goes to the log; the line names the variable, as configuration errors do.
    tracing::error!(error = ?error, "the database failed");
    Failure::Usage(format!("DATABASE_URL: {error}"))
}

fn output_failed(error: std::io::Error) -> Failure {
    Failure::Usage(format!("cannot write the output: {error}"))
}
