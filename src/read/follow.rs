//! Following a live log: the records it gains as they arrive, as `tail -f`
//! shows them and as a shipper or a binding consumes them.
//!
//! A follower reads only complete lines: a record still being written (no
//! newline yet) is left for the next read. It does not judge damage the way
//! the scanner does (a live log's last line is routinely incomplete); a
//! complete line that does not decode is handed on as [`Followed::Skipped`]
//! so the caller can say so, and reading goes on after it.

use std::fs::File;
use std::io::{BufReader, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::lines::{Lines, decode_line};
use super::messages::LoggedMessage;
use super::report::Position;
use crate::error::{Error, Result};
use crate::line::LineError;
use crate::record::{HandoffRecord, Record, ToolRecord};

/// How often a follower that found nothing new should look again.
pub const POLL: Duration = Duration::from_millis(100);

/// One thing a followed log gained.
#[derive(Debug, Clone, PartialEq)]
pub enum Followed {
    /// A message record.
    Message(LoggedMessage),
    /// A tool call record.
    Tool(ToolRecord<'static>),
    /// A handoff record.
    Handoff(HandoffRecord<'static>),
    /// The end record: the session is over and nothing more will follow.
    End,
    /// A complete line that is not a valid record.
    Skipped {
        /// 1-based line number.
        line: u64,
        /// Byte offset where the line starts.
        offset: u64,
        /// Why it did not decode.
        error: LineError,
    },
    /// The log got shorter than what was already read (a repair cut its
    /// torn tail): reading goes on from its new end.
    Shrunk {
        /// The log's length now.
        len: u64,
    },
}

/// Reads a log from its start and then whatever it gains.
pub struct Follower {
    path: PathBuf,
    file: File,
    /// After the last complete line handed on.
    pos: Position,
    /// Open between calls while lines keep coming; dropped at the end of
    /// what is there (or at a partial line), and reopened at `pos`.
    lines: Option<Lines<BufReader<File>>>,
    ended: bool,
}

impl Follower {
    /// Opens `log` (not following a symlink) to read it from the start.
    pub fn open(log: &Path) -> Result<Follower> {
        Ok(Follower {
            path: log.to_path_buf(),
            file: crate::fs::open_read(log)?,
            pos: Position::default(),
            lines: None,
            ended: false,
        })
    }

    /// True once the end record has been read.
    pub fn ended(&self) -> bool {
        self.ended
    }

    /// The next thing the log holds past what was read, or `None` when
    /// there is nothing complete yet: wait ([`POLL`]) and ask again.
    pub fn next_event(&mut self) -> Result<Option<Followed>> {
        let lines = match self.lines.as_mut() {
            Some(lines) => lines,
            None => {
                let len = self
                    .file
                    .metadata()
                    .map_err(|e| Error::io(&self.path, "stat", e))?
                    .len();
                if len < self.pos.offset {
                    self.pos.offset = len;
                    return Ok(Some(Followed::Shrunk { len }));
                }
                let mut file = self
                    .file
                    .try_clone()
                    .map_err(|e| Error::io(&self.path, "open", e))?;
                file.seek(SeekFrom::Start(self.pos.offset))
                    .map_err(|e| Error::io(&self.path, "seek", e))?;
                self.lines
                    .insert(Lines::new(BufReader::new(file), self.pos))
            }
        };
        loop {
            let next = lines
                .next_line()
                .map_err(|e| Error::io(&self.path, "read", e))?;
            let Some((info, bytes)) = next.filter(|(info, _)| info.complete) else {
                // The end of what is there, or a record still being
                // written: start again from after the last whole line.
                self.lines = None;
                return Ok(None);
            };
            self.pos = Position {
                offset: info.offset + info.len,
                line: info.line,
                prev_seq: None,
            };
            match decode_line(&info, bytes) {
                Ok(Record::Message(m)) => {
                    return Ok(Some(Followed::Message(LoggedMessage::from_record(&m))));
                }
                Ok(Record::Tool(t)) => return Ok(Some(Followed::Tool(t.into_owned()))),
                Ok(Record::Handoff(h)) => return Ok(Some(Followed::Handoff(h.into_owned()))),
                Ok(Record::End { .. }) => {
                    self.ended = true;
                    return Ok(Some(Followed::End));
                }
                Ok(Record::Header(_)) => {}
                Err(error) => {
                    return Ok(Some(Followed::Skipped {
                        line: info.line,
                        offset: info.offset,
                        error,
                    }));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::line::{
        Kind, end_fields, frame, handoff_fields, header_fields, message_fields, tool_fields,
    };
    use crate::record::{Handoff, Header, Message, ToolCall};
    use std::io::Write;

    const TS: &str = "2025-08-18T14:30:22.123456+05:30";

    fn line(kind: Kind, seq: u64) -> Vec<u8> {
        let mut out = Vec::new();
        match kind {
            Kind::Header => {
                let h = Header {
                    version: crate::record::FORMAT_VERSION,
                    session: "s".into(),
                    created: TS.into(),
                    redact: None,
                };
                frame(kind, 0, &header_fields(&h), &mut out)
            }
            Kind::Message => {
                let m = Message::agent(format!("m{seq}"), "tts");
                frame(kind, seq, &message_fields(&m, TS), &mut out)
            }
            Kind::Tool => {
                let t = ToolCall::new(format!("f{seq}"), "{}", "livekit");
                frame(kind, seq, &tool_fields(&t, TS), &mut out)
            }
            Kind::Handoff => {
                let h = Handoff::new(format!("a{seq}"), "livekit");
                frame(kind, seq, &handoff_fields(&h, TS), &mut out)
            }
            Kind::End => frame(kind, seq, &end_fields(TS), &mut out),
        }
        out
    }

    fn drain(f: &mut Follower) -> Vec<Followed> {
        std::iter::from_fn(|| f.next_event().unwrap()).collect()
    }

    fn contents(events: &[Followed]) -> Vec<String> {
        events
            .iter()
            .map(|e| match e {
                Followed::Message(m) => m.content.clone(),
                Followed::Tool(t) => format!("tool {}", t.name),
                Followed::Handoff(h) => format!("handoff {}", h.to),
                Followed::End => "END".into(),
                Followed::Skipped { line, .. } => format!("skipped {line}"),
                Followed::Shrunk { len } => format!("shrunk {len}"),
            })
            .collect()
    }

    #[test]
    fn hands_on_whole_records_as_they_arrive() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("conversation_20250818_143022.jsonl");
        let mut log = std::fs::File::create(&path).unwrap();
        log.write_all(&line(Kind::Header, 0)).unwrap();
        log.write_all(&line(Kind::Message, 1)).unwrap();
        let mut f = Follower::open(&path).unwrap();
        assert_eq!(contents(&drain(&mut f)), ["m1"]);
        assert!(drain(&mut f).is_empty());

        // Half a record is not handed on until its newline is there.
        let two = line(Kind::Message, 2);
        log.write_all(&two[..20]).unwrap();
        assert!(drain(&mut f).is_empty());
        log.write_all(&two[20..]).unwrap();
        let mut bad = line(Kind::Message, 3);
        bad[30] ^= 0x01;
        log.write_all(&bad).unwrap();
        log.write_all(&line(Kind::Message, 4)).unwrap();
        log.write_all(&line(Kind::Tool, 5)).unwrap();
        log.write_all(&line(Kind::Handoff, 6)).unwrap();
        assert!(!f.ended());
        log.write_all(&line(Kind::End, 7)).unwrap();
        assert_eq!(
            contents(&drain(&mut f)),
            ["m2", "skipped 4", "m4", "tool f5", "handoff a6", "END"]
        );
        assert!(f.ended());
    }

    #[test]
    fn a_log_cut_shorter_is_followed_from_its_new_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("conversation_20250818_143022.jsonl");
        let head = [line(Kind::Header, 0), line(Kind::Message, 1)].concat();
        std::fs::write(&path, [head.clone(), line(Kind::Message, 2)].concat()).unwrap();
        let mut f = Follower::open(&path).unwrap();
        assert_eq!(contents(&drain(&mut f)), ["m1", "m2"]);
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(head.len() as u64).unwrap();
        assert_eq!(contents(&drain(&mut f)), [format!("shrunk {}", head.len())]);
        let mut file = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        file.write_all(&line(Kind::Message, 2)).unwrap();
        assert_eq!(contents(&drain(&mut f)), ["m2"]);
    }
}
