//! What the ship tests (`tests/it/ship`) and the ship bench
//! (`benches/report/ship.rs`) share, included by both with `#[path]`: a
//! connection, a fresh database, the words of generated messages, and the
//! `--follow` lag with 20 live writers (what the test checks and the bench
//! reports).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use convlog::ship::tokio_postgres::{self, Client, NoTls};
use convlog::{Message, Session};

/// A connection to `url`, its driver spawned on the current runtime.
pub async fn connect(url: &str) -> Client {
    let (client, conn) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

/// The URL with its database replaced by `db`.
pub fn with_db(url: &str, db: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("URL has a database");
    format!("{base}/{db}")
}

/// A fresh, empty database named after `name` and this process; its URL.
pub async fn fresh_db(url: &str, name: &str) -> String {
    let admin = connect(url).await;
    let db = format!("convlog_{name}_{}", std::process::id());
    admin
        .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
        .await
        .unwrap();
    admin
        .batch_execute(&format!("CREATE DATABASE {db}"))
        .await
        .unwrap();
    with_db(url, &db)
}

/// A small deterministic generator (xorshift), so that a failure can be
/// replayed and a bench writes the same logs every run.
pub struct Rng(pub u64);

impl Rng {
    /// The next number.
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A number below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    /// A message's text: `min` to `min + spread - 1` words, Hindi, English
    /// and emoji mixed as in a voice agent's transcripts.
    pub fn sentence(&mut self, min: u64, spread: u64) -> String {
        const WORDS: [&str; 8] = [
            "नमस्ते",
            "hotel",
            "Jaipur",
            "🙏",
            "cheapest",
            "मौसम",
            "train",
            "room",
        ];
        let n = min + self.below(spread);
        let words: Vec<&str> = (0..n).map(|_| WORDS[self.below(8) as usize]).collect();
        words.join(" ")
    }
}

/// When each append was acknowledged (durable): (session id, seq) → instant.
pub type Acked = Arc<Mutex<HashMap<(String, u64), Instant>>>;

/// The live writers of the `--follow` lag: each session appends
/// `per_writer` agent replies 10 ms apart, then ends; `acked` records when
/// each append returned.
pub async fn write_replies(sessions: Vec<Session>, per_writer: usize, acked: Acked) {
    let tasks: Vec<_> = sessions
        .into_iter()
        .map(|s| {
            let acked = acked.clone();
            tokio::spawn(async move {
                for i in 0..per_writer {
                    let seq = s
                        .append(Message::agent(format!("reply {i} 🙏"), "cartesia_tts"))
                        .await
                        .unwrap()
                        .unwrap();
                    acked
                        .lock()
                        .unwrap()
                        .insert((s.id().to_string(), seq), Instant::now());
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                s.end().await.unwrap();
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
}

/// Polls the database every 5 ms until it holds `expected` messages, or
/// for two minutes at the most: (session id, seq) → the first poll that
/// saw it.
pub async fn watch_shipped(db: &Client, expected: usize) -> HashMap<(String, u64), Instant> {
    let mut seen = HashMap::new();
    let mut last: HashMap<String, u64> = HashMap::new();
    let deadline = Instant::now() + Duration::from_secs(120);
    while seen.len() < expected && Instant::now() < deadline {
        let rows = db
            .query(
                "SELECT id, (SELECT max(seq) FROM convlog.messages WHERE session_id = id)
                   FROM convlog.sessions",
                &[],
            )
            .await
            .unwrap();
        let now = Instant::now();
        for r in rows {
            let id: String = r.get(0);
            let max = r.get::<_, Option<i64>>(1).unwrap_or(0) as u64;
            for seq in last.get(&id).copied().unwrap_or(0) + 1..=max {
                seen.insert((id.clone(), seq), now);
            }
            last.insert(id, max);
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    seen
}

/// Durable-to-visible lag of every acknowledged record, sorted; checks
/// that every one was seen.
pub fn lags(acked: &Acked, seen: &HashMap<(String, u64), Instant>) -> Vec<Duration> {
    let acked = acked.lock().unwrap();
    assert_eq!(seen.len(), acked.len(), "not every record was shipped");
    let mut lags: Vec<Duration> = acked
        .iter()
        .map(|(k, at)| seen[k].saturating_duration_since(*at))
        .collect();
    lags.sort();
    lags
}

/// The `p`th percentile of `sorted` (nearest rank).
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[i.clamp(1, sorted.len()) - 1]
}
