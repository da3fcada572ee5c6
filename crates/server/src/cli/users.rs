//! `zeropass users ...`: each sub-command is one call of the domain's `ManageUsers` use case
//! over the server's own `UserRepository` adapter, printed for people or for scripts. A change
//! is written to the database at once and logged (user id and action, never the email).

use super::output::{Format, ListWriter, write_user};
use super::{Failure, UsersCommand, database};
use crate::config::Config;
use std::io::{self, BufRead, IsTerminal, Write};
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
            let format = Format::json_if(args.json);
            list(&users, &filter, args.limit, stdout.lock(), format).await
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

/// Writes the users matching `filter` to `out` as they are read, one page at a time: each page
/// is written and flushed before the next is read, so the first users appear at once and
/// memory holds one page whatever the number of users.
async fn list(
    users: &ManageUsers,
    filter: &UserFilter,
    limit: Option<u64>,
    out: impl Write,
    format: Format,
) -> Result<(), Failure> {
    let mut writer = ListWriter::new(out, format);
    writer.begin().map_err(output_failed)?;
    users
        .list(filter, limit, |page| writer.page(page))
        .await
        .map_err(|error| match error {
            ListUsersError::Repository(error) => store_failed(&error),
            ListUsersError::Output(error) => output_failed(error),
        })?;
    writer.finish().map_err(output_failed)
}

/// Asks on the terminal whether to delete `user`; only `y` or `yes` confirm.
fn confirmed(user: &User) -> Result<bool, Failure> {
    confirm_deletion(user, &mut std::io::stdin().lock(), &mut std::io::stderr())
        .map_err(output_failed)
}

/// Asks `prompt` whether to delete `user` and reads one line of `answers`: only `y` or `yes`
/// (in any case, blanks around ignored) confirm; anything else — an empty line, `n`, a longer
/// word, the end of the input — keeps the user.
fn confirm_deletion(
    user: &User,
    answers: &mut impl BufRead,
    prompt: &mut impl Write,
) -> io::Result<bool> {
    write!(
        prompt,
        "Delete user {} ({}, {})? This cannot be undone. [y/N] ",
        user.id, user.email, user.provider
    )?;
    prompt.flush()?;
    let mut answer = String::new();
    answers.read_line(&mut answer)?;
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

fn output_failed(error: io::Error) -> Failure {
    Failure::Usage(format!("cannot write the output: {error}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::output::tests::user;
    use std::sync::{Arc, Mutex};
    use zeropass_domain::{MockUserRepository, UserId};

    /// An output that keeps what was written and how much of it had been flushed, so that the
    /// store can look at what a reader of the output would already have seen.
    #[derive(Debug, Clone, Default)]
    struct Screen(Arc<Mutex<ScreenState>>);

    #[derive(Debug, Default)]
    struct ScreenState {
        written: Vec<u8>,
        flushed: usize,
        most_rows_unflushed: usize,
    }

    impl Screen {
        /// What a reader at the other end of the output has received so far.
        fn seen(&self) -> String {
            let state = self.0.lock().unwrap();
            String::from_utf8(state.written[..state.flushed].to_vec()).unwrap()
        }

        fn most_rows_unflushed(&self) -> usize {
            self.0.lock().unwrap().most_rows_unflushed
        }
    }

    impl Write for Screen {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            let mut state = self.0.lock().unwrap();
            state.written.extend_from_slice(bytes);
            // A user is one line (a table row, or an object of the JSON array).
            let unflushed = state.written[state.flushed..]
                .iter()
                .filter(|byte| **byte == b'\n')
                .count();
            state.most_rows_unflushed = state.most_rows_unflushed.max(unflushed);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            let mut state = self.0.lock().unwrap();
            state.flushed = state.written.len();
            Ok(())
        }
    }

    fn id_of(n: u128) -> String {
        UserId::from_uuid(uuid::Uuid::from_u128(n)).to_string()
    }

    /// A store of users 1..=`count` that, at each page it is asked for, notes which users the
    /// output had already received (flushed), as the users' numbers.
    fn store_watching(
        count: u128,
        screen: &Screen,
    ) -> (MockUserRepository, Arc<Mutex<Vec<Vec<u128>>>>) {
        let seen_at_each_read = Arc::new(Mutex::new(Vec::new()));
        let (screen, notes) = (screen.clone(), Arc::clone(&seen_at_each_read));
        let mut store = MockUserRepository::new();
        store.expect_list_page().returning(move |_, after, limit| {
            let seen = screen.seen();
            notes
                .lock()
                .unwrap()
                .push((1..=count).filter(|n| seen.contains(&id_of(*n))).collect());
            let first = after.map_or(1, |id| id.as_uuid().as_u128() + 1);
            Ok((first..=count)
                .take(limit as usize)
                .map(|n| user(n, true))
                .collect())
        });
        (store, seen_at_each_read)
    }

    #[tokio::test]
    async fn a_listing_reaches_the_output_page_by_page_before_the_next_page_is_read() {
        const PAGE: u32 = 3;
        const USERS: u128 = 10;
        for format in [Format::Json, Format::Table] {
            let screen = Screen::default();
            let (store, seen_at_each_read) = store_watching(USERS, &screen);
            let users = ManageUsers::with_page_size(Arc::new(store), PAGE);

            list(&users, &UserFilter::default(), None, screen.clone(), format)
                .await
                .unwrap();

            // Reads after 0, 3, 6 and 9 users: each time, every user read before was already
            // on the output, flushed, and none was held back for later.
            let expected: Vec<Vec<u128>> = (0..=3).map(|page| (1..=page * 3).collect()).collect();
            assert_eq!(*seen_at_each_read.lock().unwrap(), expected, "{format:?}");
            assert!(
                screen.most_rows_unflushed() <= PAGE as usize + 1,
                "{format:?}: at most one page waits unflushed, not {}",
                screen.most_rows_unflushed()
            );
            let all = screen.seen();
            assert!((1..=USERS).all(|n| all.contains(&id_of(n))), "{all}");
        }
    }

    #[tokio::test]
    async fn a_json_listing_is_one_array_whatever_the_number_of_pages() {
        let screen = Screen::default();
        let (store, _) = store_watching(7, &screen);
        let users = ManageUsers::with_page_size(Arc::new(store), 2);
        list(
            &users,
            &UserFilter::default(),
            Some(5),
            screen.clone(),
            Format::Json,
        )
        .await
        .unwrap();
        let listed: serde_json::Value = serde_json::from_str(&screen.seen()).unwrap();
        let ids: Vec<String> = listed
            .as_array()
            .unwrap()
            .iter()
            .map(|user| user["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(ids, (1..=5).map(id_of).collect::<Vec<_>>());
    }

    /// What the prompt printed, and whether the answer typed confirmed the deletion.
    fn asked(typed: &str) -> (String, bool) {
        let mut prompt = Vec::new();
        let confirmed =
            confirm_deletion(&user(7, true), &mut typed.as_bytes(), &mut prompt).unwrap();
        (String::from_utf8(prompt).unwrap(), confirmed)
    }

    #[test]
    fn only_y_or_yes_confirms_a_deletion() {
        for typed in ["y\n", "yes\n", "Y\n", "YES\r\n", "  yes  \n", "y"] {
            assert!(asked(typed).1, "{typed:?} confirms");
        }
    }

    #[test]
    fn anything_else_keeps_the_user() {
        for typed in [
            "", "\n", "n\n", "no\n", "N\n", "yess\n", "y e s\n", "ok\n", "\ny\n", "n\ny\n",
        ] {
            assert!(!asked(typed).1, "{typed:?} keeps the user");
        }
    }

    #[test]
    fn the_prompt_names_the_user_and_says_the_default_is_no() {
        let (prompt, _) = asked("n\n");
        assert_eq!(
            prompt,
            format!(
                "Delete user {} (user7@example.com, facebook)? This cannot be undone. [y/N] ",
                id_of(7)
            )
        );
    }
}
