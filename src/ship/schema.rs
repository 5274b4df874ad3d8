//! The tables the shipper writes, their version, and the check that an
//! existing database holds what this build expects before anything is sent.

use tokio_postgres::Client;

use super::ShipError;

/// The schema version this build creates and writes.
pub const SCHEMA_VERSION: i32 = 1;

/// The PostgreSQL schema (namespace) holding the tables.
pub const NAMESPACE: &str = "convlog";

/// The DDL of version 1, as documented in SHIP.md. Every statement is
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
    ended    timestamptz
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
    PRIMARY KEY (session_id, seq)
);
CREATE INDEX IF NOT EXISTS messages_ts_brin ON convlog.messages USING brin (ts);
CREATE INDEX IF NOT EXISTS messages_interrupted ON convlog.messages (source) WHERE interrupted;
CREATE INDEX IF NOT EXISTS sessions_created ON convlog.sessions (created);
CREATE INDEX IF NOT EXISTS sessions_open ON convlog.sessions (created) WHERE ended IS NULL;
INSERT INTO convlog.schema_version (version) VALUES (1) ON CONFLICT DO NOTHING;
"#;

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
];

/// Creates the schema when it is missing (`create`), then checks that what
/// is there is version 1 with the expected columns and keys.
pub async fn ensure(client: &mut Client, create: bool) -> Result<(), ShipError> {
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
        let tx = client.transaction().await.map_err(ShipError::db("begin"))?;
        tx.execute("SELECT pg_advisory_xact_lock(7020131052)", &[])
            .await
            .map_err(ShipError::db("lock the schema"))?;
        tx.batch_execute(DDL)
            .await
            .map_err(ShipError::db("create the convlog schema"))?;
        tx.commit()
            .await
            .map_err(ShipError::db("create the convlog schema"))?;
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
    check_table(client, "messages", MESSAGES, &["session_id", "seq"]).await
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
