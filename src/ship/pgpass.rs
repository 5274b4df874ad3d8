//! The password file, read by libpq's rules, so that a password need never
//! be on the command line: `PGPASSFILE`, else `~/.pgpass`; ignored (with a
//! warning) when group or others may read it; lines
//! `hostname:port:database:username:password` with `*` matching anything
//! and `\` escaping `:` and `\`; the first line that matches wins.

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

use tokio_postgres::Config;
use tokio_postgres::config::Host;

/// Where libpq's builds look for the server's socket when none is given;
/// such a socket counts as `localhost` in the file.
const DEFAULT_SOCKET_DIRS: &[&str] = &["/var/run/postgresql", "/run/postgresql", "/tmp"];

/// The password the file gives for `config`'s first host, port, database
/// and user; an error is a warning to show (the file was ignored).
pub(crate) fn lookup(
    config: &Config,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Option<String>, String> {
    let path = match env("PGPASSFILE") {
        Some(p) => PathBuf::from(p),
        None => match env("HOME") {
            Some(h) => PathBuf::from(h).join(".pgpass"),
            None => return Ok(None),
        },
    };
    let Ok(meta) = std::fs::metadata(&path) else {
        return Ok(None);
    };
    if !meta.is_file() {
        return Ok(None);
    }
    if meta.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "password file {} has group or world access and was ignored; permissions should be u=rw (0600) or less",
            path.display()
        ));
    }
    let text = std::fs::read_to_string(&path)
        .map_err(|e| format!("password file {}: cannot read it: {e}", path.display()))?;
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(h)) => h.clone(),
        Some(Host::Unix(p)) => {
            let p = p.display().to_string();
            if DEFAULT_SOCKET_DIRS.contains(&p.trim_end_matches('/')) {
                "localhost".to_string()
            } else {
                p
            }
        }
        None => "localhost".to_string(),
    };
    let port = config
        .get_ports()
        .first()
        .copied()
        .unwrap_or(5432)
        .to_string();
    let user = config.get_user().unwrap_or_default();
    let db = config.get_dbname().unwrap_or(user);
    Ok(find(&text, [host.as_str(), port.as_str(), db, user]))
}

/// The first line of `text` whose four fields match `want`.
fn find(text: &str, want: [&str; 4]) -> Option<String> {
    for line in text.lines() {
        if line.starts_with('#') {
            continue;
        }
        let fields = split(line);
        if fields.len() < 5 {
            continue;
        }
        if fields.iter().zip(want).all(|(f, w)| f == "*" || f == w) {
            return Some(fields[4..].join(":"));
        }
    }
    None
}

/// Splits on `:`, with `\:` and `\\` standing for themselves.
fn split(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next()
                    && let Some(last) = out.last_mut()
                {
                    last.push(n);
                }
            }
            ':' if out.len() < 5 => out.push(String::new()),
            c => {
                if let Some(last) = out.last_mut() {
                    last.push(c);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_matching_line_wins_with_wildcards_and_escapes() {
        let text = "# comment\n\
                    db.example:5432:logs:ann:first\n\
                    *:*:*:ann:second\n\
                    h\\:x:5432:*:bob:p\\:w\\\\d\n";
        assert_eq!(
            find(text, ["db.example", "5432", "logs", "ann"]).as_deref(),
            Some("first")
        );
        assert_eq!(
            find(text, ["other", "6000", "x", "ann"]).as_deref(),
            Some("second")
        );
        assert_eq!(
            find(text, ["h:x", "5432", "y", "bob"]).as_deref(),
            Some("p:w\\d")
        );
        assert_eq!(find(text, ["h:x", "5432", "y", "carol"]), None);
    }
}
