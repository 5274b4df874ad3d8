//! A page sent as it renders: the browser gets the head (and fetches the
//! stylesheet) while the conversation is still being written, so a long
//! session starts to show long before its last message is rendered.
//!
//! The renderer runs on a blocking thread and hands its output over in the
//! chunks it flushes (64 KiB, the head at once). It checks the whole log
//! before it writes a byte, so a log that cannot be shown still gets an
//! error page with its status; a failure after that can only cut the
//! response short, which the browser sees as a broken transfer rather than
//! as a page that looks whole. A reader that goes away stops the renderer
//! at its next chunk.

use std::io::{self, Write};

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use tokio::sync::mpsc;

use crate::error::Error;

/// Chunks in flight between the renderer and the connection.
const DEPTH: usize = 4;

enum Piece {
    Chunk(Bytes),
    Failed(Error),
}

/// The renderer's `Write`: each write is one chunk of the response.
struct ChunkWriter {
    tx: mpsc::Sender<Piece>,
}

impl Write for ChunkWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        self.tx
            .blocking_send(Piece::Chunk(Bytes::copy_from_slice(buf)))
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the reader went away"))?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Runs `render` on a blocking thread and streams what it writes as an
/// HTML response; an error before its first byte becomes `on_error`'s page.
pub async fn html<F>(render: F, on_error: fn(&Error) -> Response) -> Response
where
    F: FnOnce(&mut dyn Write) -> crate::error::Result<()> + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel(DEPTH);
    let failed = tx.clone();
    tokio::task::spawn_blocking(move || {
        let mut out = ChunkWriter { tx };
        if let Err(e) = render(&mut out) {
            let _ = failed.blocking_send(Piece::Failed(e));
        }
    });
    let first = match rx.recv().await {
        Some(Piece::Chunk(b)) => b,
        Some(Piece::Failed(e)) => return on_error(&e),
        None => return super::failed(),
    };
    let rest = futures_util::stream::unfold(rx, |mut rx| async move {
        match rx.recv().await? {
            Piece::Chunk(b) => Some((Ok(b), rx)),
            Piece::Failed(e) => Some((Err(io::Error::other(e.to_string())), rx)),
        }
    });
    let body = futures_util::StreamExt::chain(
        futures_util::stream::once(async move { Ok::<_, io::Error>(first) }),
        rest,
    );
    let mut r = Body::from_stream(body).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    r
}
