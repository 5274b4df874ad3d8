//! `--redact KINDS` and `--redact-key FILE`, shared by every command that
//! writes messages (`new`, `append`, `ingest`, `demo`) or sends them out
//! (`export`, `refresh`, `ship`).

use std::path::PathBuf;

use clap::Args;
use convlog::Result;
use convlog::redact::Policy;

const KINDS_HELP: &str =
    "email, phone, card, iban, ssn, aadhaar, pan, upi, ip, spoken_digits, or all";

#[derive(Args, Debug, Clone, Default)]
pub struct RedactArgs {
    /// Redact personal data: comma-separated kinds (email, phone, card,
    /// iban, ssn, aadhaar, pan, upi, ip, spoken_digits) or all. A value is
    /// replaced by its kind in capitals, e.g. [CARD].
    #[arg(long, value_name = "KINDS", value_parser = parse_policy)]
    pub redact: Option<Policy>,
    /// Keyed replacements, [CARD:8c1f2a]: HMAC-SHA256 of the value with the
    /// key in FILE (at least 16 bytes), the same token for the same value.
    #[arg(long, value_name = "FILE", requires = "redact")]
    pub redact_key: Option<PathBuf>,
}

/// `refresh --redact`: the kinds are optional there, `all` when omitted.
#[derive(Args, Debug, Clone, Default)]
pub struct RedactAllArgs {
    /// Redact personal data in the exports: comma-separated kinds (email,
    /// phone, card, iban, ssn, aadhaar, pan, upi, ip, spoken_digits) or
    /// all, which is also what --redact alone means.
    #[arg(long, value_name = "KINDS", value_parser = parse_policy,
          num_args = 0..=1, require_equals = true, default_missing_value = "all")]
    pub redact: Option<Policy>,
    /// Keyed replacements, [CARD:8c1f2a], with the key in FILE.
    #[arg(long, value_name = "FILE", requires = "redact")]
    pub redact_key: Option<PathBuf>,
}

pub fn parse_policy(s: &str) -> std::result::Result<Policy, String> {
    let p = Policy::parse(s).map_err(|e| e.to_string())?;
    if p.is_empty() {
        return Err(format!("no kinds given: name one or more of {KINDS_HELP}"));
    }
    Ok(p)
}

/// The policy, with its key read now: a missing or unreadable key file is
/// an error before anything is opened or written.
fn policy(redact: &Option<Policy>, key: &Option<PathBuf>) -> Result<Policy> {
    let policy = redact.clone().unwrap_or_default();
    match key {
        Some(file) => policy.key_file(file),
        None => Ok(policy),
    }
}

impl RedactArgs {
    pub fn policy(&self) -> Result<Policy> {
        policy(&self.redact, &self.redact_key)
    }
}

impl RedactAllArgs {
    pub fn policy(&self) -> Result<Policy> {
        policy(&self.redact, &self.redact_key)
    }
}
