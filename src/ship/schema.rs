//! The tables the shipper writes, their version, and the check that an
//! existing database holds what this build expects before anything is sent.

use tokio_postgres::Client;

use super::ShipError;

/// The schema version this build creates and writes.
pub const SCHEMA_VERSION: i32 = 2;

/// The PostgreSQL schema (namespace) holding the tables.
pub const NAMESPACE: &str = "convlog";

/// The DDL of version 2, as documented in SHIP.md. Every statement is
/// idempotent, so concurrent first runs on many workers converge; they are
/// serialised by an advisory lock anyway so the version row is written once.
pub const DDL: &str = r#"
CREATE SCHEMA IF NOT EXISTS convlog;
CREATE TABLE IF NOT EXISTS convlog.schema_version (
    version   integer PRIMARY KEY,
    installed timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS convlog.sessions (
    id       text PRIMARY KEY,
    log_name text NOT NULL,
    host     text NOT NULL,
    created  timestamptz NOT NULL,
    ended    timestamptz,
    created_text text,
    ended_text   text
);
CREATE TABLE IF NOT EXISTS convlog.messages (
    session_id  text NOT NULL,
    seq         bigint NOT NULL,
    ts          timestamptz NOT NULL,
    utc_offset  integer NOT NULL,
    role        text NOT NULL,
    content     text NOT NULL,
    source      text NOT NULL,
    turn        text,
    interrupted boolean NOT NULL,
    speaker     text,
    lang        text,
    meta        jsonb,
    crc         bigint,
    raw         text,
    PRIMARY KEY (session_id, seq)
);
CREATE INDEX IF NOT EXISTS messages_ts_brin ON convlog.messages USING brin (ts);
CREATE INDEX IF NOT EXISTS messages_interrupted ON convlog.messages (source) WHERE interrupted;
CREATE INDEX IF NOT EXISTS sessions_created ON convlog.sessions (created);
CREATE INDEX IF NOT EXISTS sessions_open ON convlog.sessions (created) WHERE ended IS NULL;
INSERT INTO convlog.schema_version (version) VALUES (2) ON CONFLICT DO NOTHING;
"#;

/// From version 1 to 2: each record's CRC (so that two copies of a session
/// are compared, not merged) and the original text of what PostgreSQL
/// cannot hold as written. Rows shipped by version 1 keep a NULL `crc`.
pub const UPGRADE_1_TO_2: &str = r#"
ALTER TABLE convlog.sessions ADD COLUMN IF NOT EXISTS created_text text,
                             ADD COLUMN IF NOT EXISTS ended_text text;
ALTER TABLE convlog.messages ADD COLUMN IF NOT EXISTS crc bigint,
                             ADD COLUMN IF NOT EXISTS raw text;
INSERT INTO convlog.schema_version (version) VALUES (2) ON CONFLICT DO NOTHING;
"#;

/// The privileges a shipping role needs once the schema is in place, each
/// with the statement that grants it (`{role}` and `{db}` filled in), in the
/// order they are checked. SHIP.md lists the same.
const GRANTS: &[(&str, &str, &str)] = &[
    (
        "has_schema_privilege('convlog', 'USAGE')",
        "USAGE on schema convlog",
        "GRANT USAGE ON SCHEMA convlog TO {role}",
    ),
    (
        "has_table_privilege('convlog.schema_version', 'SELECT')",
        "SELECT on convlog.schema_version",
        "GRANT SELECT ON convlog.schema_version TO {role}",
    ),
    (
        "has_table_privilege('convlog.sessions', 'SELECT')",
        "SELECT on convlog.sessions",
        "GRANT SELECT, INSERT, UPDATE (ended, ended_text) ON convlog.sessions TO {role}",
    ),
    (
        "has_table_privilege('convlog.sessions', 'INSERT')",
        "INSERT on convlog.sessions",
        "GRANT SELECT, INSERT, UPDATE (ended, ended_text) ON convlog.sessions TO {role}",
    ),
    (
        "has_column_privilege('convlog.sessions', 'ended', 'UPDATE')",
        "UPDATE on column convlog.sessions.ended (to record a session's end)",
        "GRANT UPDATE (ended, ended_text) ON convlog.sessions TO {role}",
    ),
    (
        "has_column_privilege('convlog.sessions', 'ended_text', 'UPDATE')",
        "UPDATE on column convlog.sessions.ended_text (to record a session's end)",
        "GRANT UPDATE (ended, ended_text) ON convlog.sessions TO {role}",
    ),
    (
        "has_table_privilege('convlog.messages', 'SELECT')",
        "SELECT on convlog.messages",
        "GRANT SELECT, INSERT ON convlog.messages TO {role}",
    ),
    (
        "has_table_privilege('convlog.messages', 'INSERT')",
        "INSERT on convlog.messages",
        "GRANT SELECT, INSERT ON convlog.messages TO {role}",
    ),
    (
        "has_database_privilege(current_database(), 'TEMPORARY')",
        "TEMPORARY on the database (for the staging table)",
        "GRANT TEMPORARY ON DATABASE {db} TO {role}",
    ),
];

/// The full-text index over content, created only on request (`convlog ship
/// --init --full-text`): it serves content search, but maintaining it costs
/// about two thirds of the insert rate (measured with `psql \copy`: 64k
/// instead of 179k messages/s on the benchmark machine), so a fleet that
/// searches rarely is better off without it, or with it on older partitions.
pub const FULL_TEXT_DDL: &str =
    "CREATE INDEX IF NOT EXISTS messages_content_fts ON convlog.messages
    USING gin (to_tsvector('simple', content))";

/// Columns as `information_schema.columns` names their types.
const SESSIONS: &[(&str, &str, bool)] = &[
    ("id", "text", false),
    ("log_name", "text", false),
    ("host", "text", false),
    ("created", "timestamp with time zone", false),
    ("ended", "timestamp with time zone", true),
    ("created_text", "text", true),
    ("ended_text", "text", true),
];

/// Columns of `convlog.messages`, in COPY order.
pub const MESSAGES: &[(&str, &str, bool)] = &[
    ("session_id", "text", false),
    ("seq", "bigint", false),
    ("ts", "timestamp with time zone", false),
    ("utc_offset", "integer", false),
    ("role", "text", false),
    ("content", "text", false),
    ("source", "text", false),
    ("turn", "text", true),
    ("interrupted", "boolean", false),
    ("speaker", "text", true),
    ("lang", "text", true),
    ("meta", "jsonb", true),
    ("crc", "bigint", true),
    ("raw", "text", true),
];

/// Creates the schema when it is missing (`create`), or upgrades version 1,
/// then checks that what is there is this version with the expected columns
/// and keys, and that the role holds every privilege shipping needs.
pub async fn ensure(client: &mut Client, create: bool) -> Result<(), ShipError> {
    let usage = client
        .query_opt(
            "SELECT has_schema_privilege(oid, 'USAGE') FROM pg_namespace WHERE nspname = $1",
            &[&NAMESPACE],
        )
        .await
        .map_err(ShipError::db("read the schema's privileges"))?;
    if usage.is_some_and(|r| !r.get::<_, bool>(0)) {
        return Err(missing_grant(client, GRANTS[0]).await);
    }
    let installed = version(client).await?;
    if installed.is_none() {
        if !create {
            return Err(ShipError::Schema(
                "the database has no convlog schema: run `convlog ship --init`".into(),
            ));
        }
        // Tables someone else made would make the DDL below fail halfway or
        // pass silently; say what is wrong with them instead.
        for (table, want, key) in [
            ("sessions", SESSIONS, &["id"][..]),
            ("messages", MESSAGES, &["session_id", "seq"][..]),
        ] {
            if exists(client, table).await? {
                check_table(client, table, want, key).await?;
            }
        }
        change(client, DDL, "create the convlog schema").await?;
    } else if installed == Some(1) {
        if !create {
            return Err(ShipError::Schema(format!(
                "the database's convlog schema is version 1; run `convlog ship --init` once to upgrade it to version {SCHEMA_VERSION}"
            )));
        }
        change(
            client,
            UPGRADE_1_TO_2,
            "upgrade the convlog schema from version 1 to 2",
        )
        .await?;
    }
    match version(client).await? {
        Some(v) if v == SCHEMA_VERSION => {}
        Some(v) if v > SCHEMA_VERSION => {
            return Err(ShipError::Schema(format!(
                "the database's convlog schema is version {v}, newer than this convlog (version {SCHEMA_VERSION}): upgrade convlog"
            )));
        }
        Some(v) => {
            return Err(ShipError::Schema(format!(
                "the database's convlog schema is version {v}; this convlog writes version {SCHEMA_VERSION}"
            )));
        }
        None => {
            return Err(ShipError::Schema(
                "convlog.schema_version holds no version".into(),
            ));
        }
    }
    check_table(client, "sessions", SESSIONS, &["id"]).await?;
    check_table(client, "messages", MESSAGES, &["session_id", "seq"]).await?;
    check_grants(client).await
}

/// Runs DDL in one transaction under an advisory lock, so that concurrent
/// first runs on many workers write the version row once.
async fn change(client: &mut Client, ddl: &str, action: &'static str) -> Result<(), ShipError> {
    let tx = client.transaction().await.map_err(ShipError::db("begin"))?;
    tx.execute("SELECT pg_advisory_xact_lock(7020131052)", &[])
        .await
        .map_err(ShipError::db("lock the schema"))?;
    tx.batch_execute(ddl).await.map_err(|e| {
        if e.code() == Some(&tokio_postgres::error::SqlState::INSUFFICIENT_PRIVILEGE) {
            ShipError::Privilege(format!(
                "cannot {action}: {}; run `convlog ship --init` once as a role that owns the schema (or may create one), then ship with a role that has the grants SHIP.md lists",
                super::describe_pg_error(&e)
            ))
        } else {
            ShipError::Db { action, source: e }
        }
    })?;
    tx.commit().await.map_err(ShipError::db(action))
}

async fn check_grants(client: &Client) -> Result<(), ShipError> {
    let exprs: Vec<&str> = GRANTS.iter().map(|g| g.0).collect();
    let row = client
        .query_one(&format!("SELECT {}", exprs.join(", ")), &[])
        .await
        .map_err(ShipError::db("read the role's privileges"))?;
    for (i, grant) in GRANTS.iter().enumerate() {
        if !row.get::<_, bool>(i) {
            return Err(missing_grant(client, *grant).await);
        }
    }
    Ok(())
}

/// The error for a privilege the role lacks: which, and the statement that
/// grants it.
async fn missing_grant(client: &Client, (_, what, grant): (&str, &str, &str)) -> ShipError {
    let (role, db) = client
        .query_one("SELECT current_user::text, current_database()::text", &[])
        .await
        .map(|r| (r.get::<_, String>(0), r.get::<_, String>(1)))
        .unwrap_or_else(|_| ("ROLE".into(), "DB".into()));
    ShipError::Privilege(format!(
        "role {role} lacks {what}; grant it with `{}` (SHIP.md lists every grant a shipping role needs)",
        grant.replace("{role}", &role).replace("{db}", &db)
    ))
}

async fn exists(client: &Client, table: &str) -> Result<bool, ShipError> {
    Ok(client
        .query_one(
            "SELECT to_regclass($1) IS NOT NULL",
            &[&format!("{NAMESPACE}.{table}")],
        )
        .await
        .map_err(ShipError::db("read the table definitions"))?
        .get::<_, bool>(0))
}

async fn version(client: &Client) -> Result<Option<i32>, ShipError> {
    if !exists(client, "schema_version").await? {
        return Ok(None);
    }
    client
        .query_one("SELECT max(version) FROM convlog.schema_version", &[])
        .await
        .map_err(ShipError::db("read the schema version"))
        .map(|r| r.get(0))
}

async fn check_table(
    client: &Client,
    table: &str,
    want: &[(&str, &str, bool)],
    key: &[&str],
) -> Result<(), ShipError> {
    let rows = client
        .query(
            "SELECT column_name::text, data_type::text, is_nullable = 'YES'
               FROM information_schema.columns
              WHERE table_schema = $1 AND table_name = $2",
            &[&NAMESPACE, &table],
        )
        .await
        .map_err(ShipError::db("read the table definitions"))?;
    let wrong = |why: String| {
        ShipError::Schema(format!(
            "table {NAMESPACE}.{table} has the wrong schema: {why} (see SHIP.md for the expected definition)"
        ))
    };
    if rows.is_empty() {
        return Err(wrong("it does not exist".into()));
    }
    for (name, ty, nullable) in want {
        let Some(row) = rows.iter().find(|r| r.get::<_, String>(0) == *name) else {
            return Err(wrong(format!("column {name} is missing")));
        };
        let got: String = row.get(1);
        if got != *ty {
            return Err(wrong(format!("column {name} is {got}, expected {ty}")));
        }
        if !nullable && row.get::<_, bool>(2) {
            return Err(wrong(format!("column {name} must be NOT NULL")));
        }
        if *nullable && !row.get::<_, bool>(2) {
            return Err(wrong(format!(
                "column {name} is NOT NULL, but must take NULL (for example, ended while a session is open)"
            )));
        }
    }
    for row in &rows {
        let name: String = row.get(0);
        if !want.iter().any(|(n, _, _)| *n == name) && !row.get::<_, bool>(2) {
            return Err(wrong(format!(
                "extra column {name} is NOT NULL, so no row could be inserted"
            )));
        }
    }
    let pk: Vec<String> = client
        .query(
            "SELECT a.attname::text
               FROM pg_index i
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey)
              WHERE i.indrelid = to_regclass($1) AND i.indisprimary
              ORDER BY array_position(i.indkey::int2[], a.attnum)",
            &[&format!("{NAMESPACE}.{table}")],
        )
        .await
        .map_err(ShipError::db("read the primary key"))?
        .iter()
        .map(|r| r.get(0))
        .collect();
    if pk != key {
        return Err(wrong(format!(
            "its primary key is ({}), expected ({})",
            pk.join(", "),
            key.join(", ")
        )));
    }
    Ok(())
}
