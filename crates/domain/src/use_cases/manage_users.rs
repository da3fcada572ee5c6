//! Managing users as an operator: listing them, looking one up by id or email, disabling,
//! enabling and deleting. The command line (`zeropass users ...`) is one door to these; they go
//! through the [`UserRepository`] port like sign-in does, so they behave the same on every
//! store, and every change is written to the store at once — a running server reads its users
//! from the store on every request, so it sees the change at its next one. Each change is
//! logged with the user's id and the action, never the email.

use crate::ports::user_repository::{RepositoryError, UserFilter, UserRepository};
use crate::user::{Email, EmailError, Provider, User, UserId};
use std::sync::Arc;
use thiserror::Error;
use uuid::Uuid;

/// Users read per page while listing: enough to amortise a round trip, few enough that a
/// listing of any size holds a bounded number of users in memory.
pub const LIST_PAGE_SIZE: u32 = 500;

/// How an operator names a user: by id, or by email (which may match one user per provider).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserReference {
    /// The user's id.
    Id(UserId),
    /// An email address.
    Email(Email),
}

/// Why a text names no user.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InvalidUserReference {
    /// It has no `@` and is not a UUID.
    #[error("not a user id: expected a UUID such as 0123abcd-0000-4000-8000-00000000cdef")]
    MalformedId,
    /// It has an `@` but is not a valid email address.
    #[error("not a valid email address: {0}")]
    MalformedEmail(#[source] EmailError),
}

impl UserReference {
    /// A text with an `@` is an email, anything else must be a user id (a UUID).
    ///
    /// # Errors
    /// [`InvalidUserReference`] when it is neither.
    pub fn parse(raw: &str) -> Result<Self, InvalidUserReference> {
        if raw.contains('@') {
            return Email::parse(raw)
                .map(Self::Email)
                .map_err(InvalidUserReference::MalformedEmail);
        }
        parse_user_id(raw).map(Self::Id)
    }
}

/// Parses a user id (a UUID in any of its usual spellings).
///
/// # Errors
/// [`InvalidUserReference::MalformedId`] when it is not one.
pub fn parse_user_id(raw: &str) -> Result<UserId, InvalidUserReference> {
    Uuid::parse_str(raw.trim())
        .map(UserId::from_uuid)
        .map_err(|_| InvalidUserReference::MalformedId)
}

/// Why an operation on one user did not happen.
#[derive(Debug, Error)]
pub enum ManageUsersError {
    /// No user has that id (or that email, at that provider). Nothing changed.
    #[error("no such user")]
    NotFound,
    /// The email belongs to users of several providers and none was named.
    #[error("the email belongs to users of several providers ({}): name one", providers_list(.0))]
    Ambiguous(Vec<Provider>),
    /// The store failed; nothing changed.
    #[error(transparent)]
    Repository(#[from] RepositoryError),
}

fn providers_list(providers: &[Provider]) -> String {
    providers
        .iter()
        .map(|provider| provider.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why a listing stopped early.
#[derive(Debug, Error)]
pub enum ListUsersError<E: std::error::Error + 'static> {
    /// The store failed.
    #[error(transparent)]
    Repository(#[from] RepositoryError),
    /// The caller's consumer of the pages failed (for instance, its output was closed).
    #[error(transparent)]
    Output(E),
}

/// The operator's user-management use case.
#[derive(Clone)]
pub struct ManageUsers {
    users: Arc<dyn UserRepository>,
    page_size: u32,
}

impl std::fmt::Debug for ManageUsers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManageUsers")
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

impl ManageUsers {
    /// The use case over this store, listing [`LIST_PAGE_SIZE`] users per page.
    #[must_use]
    pub fn new(users: Arc<dyn UserRepository>) -> Self {
        Self::with_page_size(users, LIST_PAGE_SIZE)
    }

    /// The use case with another page size (at least 1).
    #[must_use]
    pub fn with_page_size(users: Arc<dyn UserRepository>, page_size: u32) -> Self {
        Self {
            users,
            page_size: page_size.max(1),
        }
    }

    /// Walks the users matching `filter` in id order, at most `limit` of them (all when
    /// `None`), handing each page to `each` as soon as it is read: memory stays bounded by one
    /// page whatever the number of users, and the first users reach the caller at once.
    /// Returns how many users were handed over.
    ///
    /// # Errors
    /// [`ListUsersError::Repository`] when the store fails, [`ListUsersError::Output`] when
    /// `each` fails; the walk stops at once in both cases.
    #[tracing::instrument(name = "list_users", skip_all)]
    pub async fn list<E: std::error::Error + 'static>(
        &self,
        filter: &UserFilter,
        limit: Option<u64>,
        mut each: impl FnMut(&[User]) -> Result<(), E>,
    ) -> Result<u64, ListUsersError<E>> {
        let mut listed: u64 = 0;
        let mut after = None;
        loop {
            let wanted = match limit {
                Some(limit) => {
                    let remaining = limit.saturating_sub(listed);
                    if remaining == 0 {
                        return Ok(listed);
                    }
                    u32::try_from(remaining).map_or(self.page_size, |r| r.min(self.page_size))
                }
                None => self.page_size,
            };
            let page = self.users.list_page(filter, after, wanted).await?;
            let Some(last) = page.last() else {
                return Ok(listed);
            };
            after = Some(last.id);
            listed += page.len() as u64;
            each(&page).map_err(ListUsersError::Output)?;
            if page.len() < wanted as usize {
                return Ok(listed);
            }
        }
    }

    /// The user an operator named, active or not. By id: that user (`provider`, when given,
    /// must be theirs). By email: the one user with that email, at `provider` when given.
    ///
    /// # Errors
    /// [`ManageUsersError::NotFound`]; [`ManageUsersError::Ambiguous`] when the email matches
    /// users of several providers and no provider was given; a store failure.
    #[tracing::instrument(name = "show_user", skip_all)]
    pub async fn show(
        &self,
        reference: &UserReference,
        provider: Option<Provider>,
    ) -> Result<User, ManageUsersError> {
        match reference {
            UserReference::Id(id) => self
                .users
                .find_by_id(*id)
                .await?
                .filter(|user| provider.is_none_or(|provider| user.provider == provider))
                .ok_or(ManageUsersError::NotFound),
            UserReference::Email(email) => {
                let filter = UserFilter {
                    provider,
                    email: Some(email.clone()),
                };
                // (email, provider) is unique: more than one match means several providers.
                let mut found = self.users.list_page(&filter, None, 2).await?;
                match found.len() {
                    0 => Err(ManageUsersError::NotFound),
                    1 => Ok(found.remove(0)),
                    _ => {
                        let mut providers: Vec<Provider> =
                            found.iter().map(|user| user.provider).collect();
                        providers.sort_by_key(|provider| provider.as_str());
                        Err(ManageUsersError::Ambiguous(providers))
                    }
                }
            }
        }
    }

    /// Disables (`active == false`) or enables a user; returns the user as now stored. A
    /// disabled user is refused at sign-in and on every authenticated call, by every instance
    /// at its next request.
    ///
    /// # Errors
    /// [`ManageUsersError::NotFound`] (nothing changed), or a store failure.
    #[tracing::instrument(name = "set_user_active", skip_all, fields(user_id = %id, active))]
    pub async fn set_active(&self, id: UserId, active: bool) -> Result<User, ManageUsersError> {
        let user = self
            .users
            .set_active(id, active)
            .await?
            .ok_or(ManageUsersError::NotFound)?;
        let action = if active { "enable" } else { "disable" };
        tracing::info!(user_id = %id, action, "user {action}d by an operator");
        Ok(user)
    }

    /// Deletes a user, active or not (the erasure an inactive user cannot do through the API).
    ///
    /// # Errors
    /// [`ManageUsersError::NotFound`] (nothing deleted), or a store failure.
    #[tracing::instrument(name = "delete_user", skip_all, fields(user_id = %id))]
    pub async fn delete(&self, id: UserId) -> Result<(), ManageUsersError> {
        if !self.users.delete(id).await? {
            return Err(ManageUsersError::NotFound);
        }
        tracing::info!(user_id = %id, action = "delete", "user deleted by an operator");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ports::user_repository::MockUserRepository;
    use crate::test_support::active_user;
    use mockall::predicate::eq;

    fn user_number(n: u128, provider: Provider) -> User {
        User {
            id: UserId::from_uuid(Uuid::from_u128(n)),
            provider,
            ..active_user()
        }
    }

    fn manage(users: MockUserRepository, page_size: u32) -> ManageUsers {
        ManageUsers::with_page_size(Arc::new(users), page_size)
    }

    /// A store of `count` users numbered 1..=count that answers pages as the port promises.
    fn store_of(count: u128) -> MockUserRepository {
        let mut users = MockUserRepository::new();
        users.expect_list_page().returning(move |_, after, limit| {
            let start = after.map_or(1, |id| id.as_uuid().as_u128() + 1);
            Ok((start..=count)
                .take(limit as usize)
                .map(|n| user_number(n, Provider::Google))
                .collect())
        });
        users
    }

    #[derive(Debug, Error)]
    #[error("output closed")]
    struct OutputClosed;

    async fn listed_pages(manage: &ManageUsers, limit: Option<u64>) -> (u64, Vec<Vec<u128>>) {
        let mut pages = Vec::new();
        let count = manage
            .list(&UserFilter::default(), limit, |page| {
                pages.push(page.iter().map(|u| u.id.as_uuid().as_u128()).collect());
                Ok::<_, OutputClosed>(())
            })
            .await
            .unwrap();
        (count, pages)
    }

    #[tokio::test]
    async fn listing_walks_every_page_after_the_last_id_of_the_one_before() {
        let (count, pages) = listed_pages(&manage(store_of(7), 3), None).await;
        assert_eq!(count, 7);
        assert_eq!(pages, vec![vec![1, 2, 3], vec![4, 5, 6], vec![7]]);
    }

    #[tokio::test]
    async fn a_listing_that_ends_on_a_full_page_asks_once_more_and_stops_on_the_empty_one() {
        let (count, pages) = listed_pages(&manage(store_of(6), 3), None).await;
        assert_eq!(count, 6);
        assert_eq!(pages, vec![vec![1, 2, 3], vec![4, 5, 6]]);
    }

    #[tokio::test]
    async fn a_limit_stops_the_listing_and_shrinks_the_last_page_read() {
        let mut users = MockUserRepository::new();
        let mut sequence = mockall::Sequence::new();
        for (after, limit) in [(None, 3), (Some(3), 2)] {
            users
                .expect_list_page()
                .withf(move |_, a, l| {
                    *a == after.map(|n| UserId::from_uuid(Uuid::from_u128(n))) && *l == limit
                })
                .times(1)
                .in_sequence(&mut sequence)
                .returning(move |_, after, limit| {
                    let start = after.map_or(1, |id| id.as_uuid().as_u128() + 1);
                    Ok((start..start + u128::from(limit))
                        .map(|n| user_number(n, Provider::Google))
                        .collect())
                });
        }
        let (count, pages) = listed_pages(&manage(users, 3), Some(5)).await;
        assert_eq!(count, 5);
        assert_eq!(pages, vec![vec![1, 2, 3], vec![4, 5]]);
    }

    #[tokio::test]
    async fn the_filter_reaches_the_store_unchanged() {
        let filter = UserFilter {
            provider: Some(Provider::Facebook),
            email: Some(Email::parse("ada@example.com").unwrap()),
        };
        let mut users = MockUserRepository::new();
        let expected = filter.clone();
        users
            .expect_list_page()
            .withf(move |f, _, _| *f == expected)
            .times(1)
            .returning(|_, _, _| Ok(vec![]));
        let count = manage(users, 10)
            .list(&filter, None, |_| Ok::<_, OutputClosed>(()))
            .await
            .unwrap();
        assert_eq!(count, 0);
    }

    #[tokio::test]
    async fn a_failing_output_stops_the_listing_at_once() {
        let mut calls = 0;
        let result = manage(store_of(10), 3)
            .list(&UserFilter::default(), None, |_| {
                calls += 1;
                Err(OutputClosed)
            })
            .await;
        assert!(matches!(result, Err(ListUsersError::Output(OutputClosed))));
        assert_eq!(calls, 1);
    }

    #[test]
    fn a_reference_with_an_at_sign_is_an_email_and_anything_else_must_be_a_uuid() {
        assert_eq!(
            UserReference::parse("Ada@Example.com"),
            Ok(UserReference::Email(
                Email::parse("ada@example.com").unwrap()
            ))
        );
        assert_eq!(
            UserReference::parse("00000000-0000-4000-8000-000000000001"),
            Ok(UserReference::Id(UserId::from_uuid(Uuid::from_u128(
                0x4000_8000_0000_0000_0001
            ))))
        );
        assert_eq!(
            UserReference::parse("not-a-uuid"),
            Err(InvalidUserReference::MalformedId)
        );
        assert!(matches!(
            UserReference::parse("@"),
            Err(InvalidUserReference::MalformedEmail(_))
        ));
    }

    fn store_with_email_at(providers: &'static [Provider]) -> MockUserRepository {
        let mut users = MockUserRepository::new();
        users
            .expect_list_page()
            .withf(|filter, after, limit| filter.email.is_some() && after.is_none() && *limit == 2)
            .returning(move |filter, _, _| {
                Ok(providers
                    .iter()
                    .enumerate()
                    .filter(|(_, p)| filter.provider.is_none_or(|wanted| wanted == **p))
                    .map(|(n, p)| user_number(n as u128 + 1, *p))
                    .collect())
            });
        users
    }

    #[tokio::test]
    async fn an_email_at_both_providers_is_ambiguous_without_a_provider() {
        let reference = UserReference::parse("ada@example.com").unwrap();
        let manage = manage(
            store_with_email_at(&[Provider::Google, Provider::Facebook]),
            10,
        );
        let error = manage.show(&reference, None).await.unwrap_err();
        assert!(
            matches!(&error, ManageUsersError::Ambiguous(p) if *p == [Provider::Facebook, Provider::Google]),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "the email belongs to users of several providers (facebook, google): name one"
        );
        let user = manage
            .show(&reference, Some(Provider::Facebook))
            .await
            .unwrap();
        assert_eq!(user.provider, Provider::Facebook);
    }

    #[tokio::test]
    async fn an_unknown_email_or_id_is_not_found() {
        let manage = manage(store_with_email_at(&[]), 10);
        let reference = UserReference::parse("nobody@example.com").unwrap();
        assert!(matches!(
            manage.show(&reference, None).await,
            Err(ManageUsersError::NotFound)
        ));

        let mut users = MockUserRepository::new();
        users.expect_find_by_id().returning(|_| Ok(None));
        let reference = UserReference::Id(active_user().id);
        assert!(matches!(
            self::manage(users, 10).show(&reference, None).await,
            Err(ManageUsersError::NotFound)
        ));
    }

    #[tokio::test]
    async fn a_user_shown_by_id_must_be_of_the_provider_named() {
        let user = active_user();
        let mut users = MockUserRepository::new();
        let stored = user.clone();
        users
            .expect_find_by_id()
            .with(eq(user.id))
            .returning(move |_| Ok(Some(stored.clone())));
        let manage = manage(users, 10);
        let reference = UserReference::Id(user.id);
        assert_eq!(manage.show(&reference, None).await.unwrap(), user);
        assert!(matches!(
            manage.show(&reference, Some(Provider::Facebook)).await,
            Err(ManageUsersError::NotFound)
        ));
    }

    #[tokio::test]
    async fn disabling_sets_the_flag_in_the_store_and_returns_the_stored_user() {
        let disabled = User {
            is_active: false,
            ..active_user()
        };
        let mut users = MockUserRepository::new();
        let stored = disabled.clone();
        users
            .expect_set_active()
            .with(eq(disabled.id), eq(false))
            .times(1)
            .returning(move |_, _| Ok(Some(stored.clone())));
        let user = manage(users, 10)
            .set_active(disabled.id, false)
            .await
            .unwrap();
        assert_eq!(user, disabled);
    }

    #[tokio::test]
    async fn enabling_or_deleting_an_unknown_user_is_not_found() {
        let mut users = MockUserRepository::new();
        users.expect_set_active().returning(|_, _| Ok(None));
        users.expect_delete().returning(|_| Ok(false));
        let manage = manage(users, 10);
        let id = active_user().id;
        assert!(matches!(
            manage.set_active(id, true).await,
            Err(ManageUsersError::NotFound)
        ));
        assert!(matches!(
            manage.delete(id).await,
            Err(ManageUsersError::NotFound)
        ));
    }

    #[tokio::test]
    async fn deleting_removes_the_user_whether_active_or_not() {
        let id = active_user().id;
        let mut users = MockUserRepository::new();
        users
            .expect_delete()
            .with(eq(id))
            .times(1)
            .returning(|_| Ok(true));
        manage(users, 10).delete(id).await.unwrap();
    }
}
