//! How the user commands print users: a table for people, or JSON for scripts in exactly the
//! API's user shape — the HTTP layer's own `UserResponse`, so the two can never drift apart.
//! A listing is written as it is read, page by page (the JSON array too), so its memory does
//! not grow with the number of users and the first lines appear at once.

use std::io::{self, Write};
use zeropass_domain::User;
use zeropass_http::UserResponse;

/// Table for people, JSON for scripts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Table,
    Json,
}

impl Format {
    pub(crate) fn json_if(json: bool) -> Self {
        if json { Self::Json } else { Self::Table }
    }
}

/// The table's columns; the email, of any length, comes last so that every other column lines
/// up without knowing the rows in advance.
const TABLE_HEADER: &str =
    "ID                                    PROVIDER  ACTIVE  CREATED               EMAIL";

fn table_row(out: &mut impl Write, user: &User) -> io::Result<()> {
    let shown = UserResponse::from(user);
    writeln!(
        out,
        "{:<36}  {:<8}  {:<6}  {:<20}  {}",
        shown.id,
        shown.provider,
        if shown.is_active { "yes" } else { "no" },
        shown.created_at,
        shown.email
    )
}

/// Writes a listing incrementally: [`begin`](Self::begin), one [`page`](Self::page) per page
/// read, [`finish`](Self::finish).
#[derive(Debug)]
pub(crate) struct ListWriter<W: Write> {
    out: W,
    format: Format,
    written: u64,
}

impl<W: Write> ListWriter<W> {
    pub(crate) fn new(out: W, format: Format) -> Self {
        Self {
            out,
            format,
            written: 0,
        }
    }

    pub(crate) fn begin(&mut self) -> io::Result<()> {
        match self.format {
            Format::Table => writeln!(self.out, "{TABLE_HEADER}"),
            Format::Json => self.out.write_all(b"["),
        }
    }

    /// Writes a page and flushes it, so that a reader sees each page as soon as it was read.
    pub(crate) fn page(&mut self, users: &[User]) -> io::Result<()> {
        for user in users {
            match self.format {
                Format::Table => table_row(&mut self.out, user)?,
                Format::Json => {
                    self.out
                        .write_all(if self.written == 0 { b"\n" } else { b",\n" })?;
                    serde_json::to_writer(&mut self.out, &UserResponse::from(user))?;
                }
            }
            self.written += 1;
        }
        self.out.flush()
    }

    pub(crate) fn finish(mut self) -> io::Result<()> {
        if self.format == Format::Json {
            self.out
                .write_all(if self.written == 0 { b"]\n" } else { b"\n]\n" })?;
        }
        self.out.flush()
    }
}

/// Writes one user: a JSON object, or one `field  value` line per field.
pub(crate) fn write_user(out: &mut impl Write, user: &User, format: Format) -> io::Result<()> {
    let shown = UserResponse::from(user);
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *out, &shown)?;
            writeln!(out)?;
        }
        Format::Table => {
            writeln!(out, "id          {}", shown.id)?;
            writeln!(out, "email       {}", shown.email)?;
            writeln!(out, "provider    {}", shown.provider)?;
            writeln!(out, "is_active   {}", shown.is_active)?;
            writeln!(out, "created_at  {}", shown.created_at)?;
        }
    }
    out.flush()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::DateTime;
    use zeropass_domain::{Email, Provider, Subject, UserId};

    /// User number `n` (its id is the UUID of `n`), a Facebook user `user{n}@example.com`.
    pub(crate) fn user(n: u128, active: bool) -> User {
        User {
            id: UserId::from_uuid(uuid::Uuid::from_u128(n)),
            email: Email::parse(&format!("user{n}@example.com")).unwrap(),
            provider: Provider::Facebook,
            subject: Subject::parse("secret-subject").unwrap(),
            is_active: active,
            created_at: DateTime::from_timestamp(1_795_000_000, 0).unwrap(),
        }
    }

    fn listed(format: Format, pages: &[&[User]]) -> String {
        let mut out = Vec::new();
        let mut writer = ListWriter::new(&mut out, format);
        writer.begin().unwrap();
        for page in pages {
            writer.page(page).unwrap();
        }
        writer.finish().unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn a_json_listing_written_page_by_page_is_one_array_of_api_users() {
        let (a, b, c) = (user(1, true), user(2, false), user(3, true));
        let text = listed(
            Format::Json,
            &[&[a.clone(), b.clone()], std::slice::from_ref(&c)],
        );
        let parsed: serde_json::Value = serde_json::from_str(&text).unwrap();
        let expected: Vec<serde_json::Value> = [&a, &b, &c]
            .iter()
            .map(|user| serde_json::to_value(UserResponse::from(*user)).unwrap())
            .collect();
        assert_eq!(parsed, serde_json::Value::Array(expected));
        assert!(!text.contains("secret-subject"));
    }

    #[test]
    fn an_empty_json_listing_is_an_empty_array() {
        assert_eq!(listed(Format::Json, &[]), "[]\n");
        assert_eq!(listed(Format::Json, &[&[]]), "[]\n");
    }

    #[test]
    fn a_table_has_a_header_and_one_aligned_row_per_user() {
        let text = listed(Format::Table, &[&[user(1, true)], &[user(2, false)]]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0], TABLE_HEADER);
        assert_eq!(
            lines[2],
            "00000000-0000-0000-0000-000000000002  facebook  no      2026-11-18T11:06:40Z  user2@example.com"
        );
        let email_column = lines[0].find("EMAIL").unwrap();
        assert_eq!(lines[1].find("user1@").unwrap(), email_column);
    }
}
