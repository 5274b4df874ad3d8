//! Erasure in the database: a session's rows deleted in one transaction
//! (`convlog forget --to`), and the count of its shipped records that
//! `convlog prune --require-shipped` compares with the log.

use std::collections::HashMap;

use super::{ShipError, Target};

async fn client(target: &Target) -> Result<tokio_postgres::Client, ShipError> {
    target.connect().await.map_err(|e| ShipError::Connect {
        target: target.describe().to_string(),
        reason: super::describe_pg_error(&e),
    })
}

/// Rows deleted for one session.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Erased {
    /// Rows of `convlog.messages`.
    pub messages: u64,
    /// Rows of `convlog.sessions` (0 or 1).
    pub sessions: u64,
}

/// Deletes every row of these sessions, all in one transaction: either
/// every session's rows are gone or none are.
pub async fn erase(target: &Target, ids: &[String]) -> Result<Vec<Erased>, ShipError> {
    let mut client = client(target).await?;
    let tx = client
        .transaction()
        .await
        .map_err(ShipError::db("begin the erasure"))?;
    let mut out = Vec::with_capacity(ids.len());
    for id in ids {
        let messages = tx
            .execute("DELETE FROM convlog.messages WHERE session_id = $1", &[id])
            .await
            .map_err(ShipError::db("delete the session's messages"))?;
        let sessions = tx
            .execute("DELETE FROM convlog.sessions WHERE id = $1", &[id])
            .await
            .map_err(ShipError::db("delete the session"))?;
        out.push(Erased { messages, sessions });
    }
    tx.commit()
        .await
        .map_err(ShipError::db("commit the erasure"))?;
    Ok(out)
}

/// How many message rows each of these sessions has in the database.
pub async fn shipped(target: &Target, ids: &[String]) -> Result<HashMap<String, u64>, ShipError> {
    let client = client(target).await?;
    let rows = client
        .query(
            "SELECT session_id, count(*) FROM convlog.messages \
             WHERE session_id = ANY($1) GROUP BY session_id",
            &[&ids],
        )
        .await
        .map_err(ShipError::db("count the shipped records"))?;
    Ok(rows
        .iter()
        .map(|r| (r.get::<_, String>(0), r.get::<_, i64>(1).max(0) as u64))
        .collect())
}
