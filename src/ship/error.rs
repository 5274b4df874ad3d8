//! Why a run stopped ([`ShipError`]), and how a fault met on the way is
//! judged: retried (the server is away, hung, out of disk), isolated (a
//! record it refuses), or final (credentials, privileges, schema).

use std::fmt;
use std::future::Future;
use std::time::Duration;

use tokio_postgres::error::SqlState;

use super::Summary;

/// Why shipping stopped.
#[derive(Debug)]
#[non_exhaustive]
pub enum ShipError {
    /// The connection settings are unusable.
    Config(String),
    /// The first connection failed.
    #[allow(missing_docs)] // the fields' names say it
    Connect {
        /// The database, without its password.
        target: String,
        /// What went wrong, in words.
        reason: String,
    },
    /// A statement failed in a way retrying cannot fix.
    #[allow(missing_docs)] // the fields' names say it
    Db {
        /// What the shipper was doing.
        action: &'static str,
        source: tokio_postgres::Error,
    },
    /// The role lacks a privilege the shipper needs.
    Privilege(String),
    /// A one-pass run met the same transient fault on every attempt.
    GaveUp {
        /// What happened, in words.
        what: &'static str,
        /// The last error.
        reason: String,
        /// Attempts made.
        attempts: u32,
        /// What was shipped before giving up (boxed: it is large beside
        /// the other variants).
        summary: Box<Summary>,
    },
    /// The database's tables are not what this build writes.
    Schema(String),
    /// A path could not be read.
    Log(crate::Error),
}

impl ShipError {
    pub(crate) fn db(action: &'static str) -> impl Fn(tokio_postgres::Error) -> ShipError {
        move |source| ShipError::Db { action, source }
    }
}

/// The database's message with its detail and hint, or the client's error.
pub fn describe_pg_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!("{} (SQLSTATE {})", db.message(), db.code().code());
            if let Some(d) = db.detail() {
                s.push_str(&format!("; {d}"));
            }
            if let Some(w) = db.where_() {
                s.push_str(&format!("; {w}"));
            }
            if let Some(h) = db.hint() {
                s.push_str(&format!("; hint: {h}"));
            }
            s
        }
        None => {
            let mut s = e.to_string();
            let mut src = std::error::Error::source(e);
            while let Some(inner) = src {
                let text = inner.to_string();
                if !s.contains(&text) {
                    s.push_str(&format!(": {text}"));
                }
                src = inner.source();
            }
            s
        }
    }
}

impl fmt::Display for ShipError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ShipError::Config(m) | ShipError::Schema(m) | ShipError::Privilege(m) => f.write_str(m),
            ShipError::Connect { target, reason } => {
                write!(f, "cannot connect to {target}: {reason}")
            }
            ShipError::Db { action, source } => {
                write!(
                    f,
                    "database error: cannot {action}: {}",
                    describe_pg_error(source)
                )
            }
            ShipError::GaveUp {
                what,
                reason,
                attempts,
                ..
            } => write!(
                f,
                "gave up after {attempts} attempts: {what} ({reason}); what was shipped before stays, and the next run continues from it"
            ),
            ShipError::Log(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for ShipError {}

/// A fault met talking to the database.
#[derive(Debug)]
pub(crate) enum Fault {
    Pg(tokio_postgres::Error),
    /// No answer in time: the server accepts TCP and says nothing, or a
    /// backend is frozen. The connection is dropped.
    Timeout {
        doing: &'static str,
        after: Duration,
    },
}

impl From<tokio_postgres::Error> for Fault {
    fn from(e: tokio_postgres::Error) -> Fault {
        Fault::Pg(e)
    }
}

impl Fault {
    pub(crate) fn describe(&self) -> String {
        match self {
            Fault::Pg(e) => describe_pg_error(e),
            Fault::Timeout { doing, after } => {
                format!("no answer within {}s while {doing}", after.as_secs())
            }
        }
    }

    pub(crate) fn class(&self) -> Class {
        match self {
            Fault::Pg(e) => classify(e),
            Fault::Timeout { .. } => Class::Transient,
        }
    }

    /// What happened, in words a person on call understands.
    pub(crate) fn what(&self) -> &'static str {
        let Fault::Pg(e) = self else {
            return "the database does not answer";
        };
        let Some(code) = e.code() else {
            return "the database is unreachable";
        };
        match code.code() {
            "57014" => "the server cancelled a statement (statement_timeout, or a cancel request)",
            "53100" => "the database's disk is full",
            "53200" => "the database server is out of memory",
            "53300" => "the database has too many connections",
            "57P01" | "57P02" => "the database server is shutting down",
            "57P03" => "the database server is not accepting connections yet",
            "25006" => "the database is read-only (a standby, or default_transaction_read_only)",
            "40001" | "40P01" => "a transaction was aborted by a conflict with another",
            "55P03" => "a lock could not be taken",
            c if c.starts_with("08") => "the connection to the database was lost",
            c if c.starts_with("58") => "the database server had an I/O error",
            c if c.starts_with("53") => "the database server ran out of a resource",
            _ => "the database failed",
        }
    }
}

/// What to do about a database error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Class {
    /// The connection or server is away or short of something: reconnect
    /// and retry.
    Transient,
    /// The data was refused: isolate and report the record.
    Rejected,
    /// Retrying cannot help (credentials, permissions, schema).
    Fatal,
}

pub(crate) fn classify(e: &tokio_postgres::Error) -> Class {
    let Some(code) = e.code() else {
        return Class::Transient;
    };
    if *code == SqlState::UNDEFINED_TABLE || *code == SqlState::UNDEFINED_COLUMN {
        return Class::Fatal;
    }
    match &code.code()[..2] {
        "08" | "57" | "53" | "40" | "55" | "58" => Class::Transient,
        "25" if *code == SqlState::READ_ONLY_SQL_TRANSACTION => Class::Transient,
        "22" | "23" | "54" => Class::Rejected,
        _ => Class::Fatal,
    }
}

/// A fault that ends the run, as the error the caller sees.
pub(crate) fn fatal(action: &'static str, f: Fault) -> ShipError {
    match f {
        Fault::Pg(source) => {
            if source.code() == Some(&SqlState::INSUFFICIENT_PRIVILEGE) {
                return ShipError::Privilege(format!(
                    "cannot {action}: {}; SHIP.md lists the grants a shipping role needs",
                    describe_pg_error(&source)
                ));
            }
            ShipError::Db { action, source }
        }
        // Timeouts are transient and retried; should one end a run, it is a
        // retry budget of one spent.
        f @ Fault::Timeout { .. } => ShipError::GaveUp {
            what: f.what(),
            reason: f.describe(),
            attempts: 1,
            summary: Box::default(),
        },
    }
}

/// A failed attempt at an exchange with the database.
pub(crate) type Attempt<T> = Result<T, Fault>;

/// `fut`, or a [`Fault::Timeout`] after `limit`.
pub(crate) async fn timed<T>(
    limit: Duration,
    doing: &'static str,
    fut: impl Future<Output = Attempt<T>>,
) -> Attempt<T> {
    match tokio::time::timeout(limit, fut).await {
        Ok(r) => r,
        Err(_) => Err(Fault::Timeout {
            doing,
            after: limit,
        }),
    }
}
