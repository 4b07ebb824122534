//! Signing and verifying webhooks, pure: no I/O, no clock (the caller passes the time).
//!
//! Schemes: [Standard Webhooks](https://www.standardwebhooks.com/) `v1` (HMAC-SHA256 over
//! `{id}.{timestamp}.{body}` with a `whsec_` secret) and `v1a` (Ed25519 over the same, with a
//! trust list of `whpk_` public keys), GitHub (`X-Hub-Signature-256: sha256=<hex>` over the body),
//! Stripe (`Stripe-Signature: t=…,v1=<hex>` over `{t}.{body}`), and generic HMAC (SHA-256 or
//! SHA-512 over the body, hex or base64, in a header of your choice, with an optional prefix).
//!
//! Invariants:
//! - Every signature comparison is constant-time (`hmac::Mac::verify_slice`, Ed25519's own
//!   verification); a tag of the wrong length is refused without comparing.
//! - A request verifies when any one signature it carries matches any one configured secret or
//!   key, so keys rotate by configuring the new one beside the old.
//! - Timestamped schemes refuse a timestamp further than the tolerance from `now`, either way.
//! - Nothing here panics on input; every refusal is a [`VerifyError`] that names what is wrong
//!   without echoing a secret.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use hmac::{Hmac, Mac};
use sha2::{Sha256, Sha512};

/// The default timestamp tolerance, either way: five minutes.
pub const DEFAULT_TOLERANCE_SECS: u64 = 300;

/// Reads a request's headers by name, case-insensitively.
pub trait Headers {
    /// The value of the header `name` (ASCII case-insensitive), if present and text.
    fn header(&self, name: &str) -> Option<&str>;
}

impl Headers for [(&str, &str)] {
    fn header(&self, name: &str) -> Option<&str> {
        self.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)).map(|(_, v)| *v)
    }
}

/// How a webhook's signature is checked.
#[derive(Clone)]
pub enum Scheme {
    /// Standard Webhooks: `webhook-id`, `webhook-timestamp`, `webhook-signature` (also the
    /// `svix-` spellings); `v1` against `secrets`, `v1a` against `public_keys`.
    StandardWebhooks {
        /// HMAC keys (decoded `whsec_` secrets).
        secrets: Vec<Vec<u8>>,
        /// Ed25519 keys (decoded `whpk_` keys).
        public_keys: Vec<VerifyingKey>,
    },
    /// GitHub: `X-Hub-Signature-256`, delivery id `X-GitHub-Delivery`; no timestamp.
    GitHub {
        /// The webhook secrets (the text as configured at GitHub).
        secrets: Vec<Vec<u8>>,
    },
    /// Stripe: `Stripe-Signature` with `t=` and one or more `v1=`.
    Stripe {
        /// The endpoint secrets (`whsec_…`, used as text, as Stripe does).
        secrets: Vec<Vec<u8>>,
    },
    /// An HMAC of the body in one header.
    Hmac(GenericHmac),
}

impl std::fmt::Debug for Scheme {
    // Secrets stay out of `{:?}`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scheme::StandardWebhooks { secrets, public_keys } => {
                write!(f, "StandardWebhooks {{ {} secrets, {} public keys }}", secrets.len(), public_keys.len())
            }
            Scheme::GitHub { secrets } => write!(f, "GitHub {{ {} secrets }}", secrets.len()),
            Scheme::Stripe { secrets } => write!(f, "Stripe {{ {} secrets }}", secrets.len()),
            Scheme::Hmac(h) => write!(
                f,
                "Hmac {{ {:?}, header {:?}, {:?}, prefix {:?}, {} secrets }}",
                h.algorithm,
                h.header,
                h.encoding,
                h.prefix,
                h.secrets.len()
            ),
        }
    }
}

/// The hash of a generic HMAC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    /// HMAC-SHA256.
    Sha256,
    /// HMAC-SHA512.
    Sha512,
}

/// How a generic HMAC's tag is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// Lower- or upper-case hex.
    Hex,
    /// Standard base64, with padding.
    Base64,
}

/// A generic HMAC scheme: `header: <prefix><tag>`, the tag an HMAC of the body.
#[derive(Clone)]
pub struct GenericHmac {
    /// The keys (the secrets' bytes).
    pub secrets: Vec<Vec<u8>>,
    /// The hash.
    pub algorithm: Algorithm,
    /// The header carrying the tag.
    pub header: String,
    /// How the tag is written.
    pub encoding: Encoding,
    /// Text before the tag (`sha256=`), if any.
    pub prefix: Option<String>,
    /// The header carrying a delivery id, if any.
    pub id_header: Option<String>,
}

/// What a verified request said about itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// Its delivery id, where the scheme has one (`webhook-id`, `X-GitHub-Delivery`).
    pub delivery_id: Option<String>,
    /// Its timestamp (Unix seconds), where the scheme signs one.
    pub timestamp: Option<i64>,
}

/// Why a request did not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// A header the scheme needs is absent.
    #[error("the {0} header is missing")]
    MissingHeader(String),
    /// A header is there but not in the scheme's form.
    #[error("the {header} header is malformed: {problem}")]
    Malformed {
        /// The header.
        header: String,
        /// What is wrong.
        problem: String,
    },
    /// The signed timestamp is too far from now.
    #[error("the timestamp is {skew_secs} s from now; at most {tolerance_secs} s is accepted")]
    Stale {
        /// How far it is, in seconds (either way).
        skew_secs: u64,
        /// The tolerance.
        tolerance_secs: u64,
    },
    /// No signature matched any configured secret or key.
    #[error("no signature matches a configured secret")]
    NoMatch,
}

/// Why a secret or key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct KeyError(String);

/// Decodes a Standard Webhooks secret: `whsec_` followed by base64 (the prefix is optional).
pub fn decode_whsec(secret: &str) -> Result<Vec<u8>, KeyError> {
    let encoded = secret.strip_prefix("whsec_").unwrap_or(secret);
    let key =
        BASE64.decode(encoded).map_err(|e| KeyError(format!("a whsec_ secret is base64 after the prefix: {e}")))?;
    if !(24..=64).contains(&key.len()) {
        return Err(KeyError(format!("a whsec_ secret decodes to 24-64 bytes, not {}", key.len())));
    }
    Ok(key)
}

/// Decodes a Standard Webhooks public key: `whpk_` followed by the base64 of 32 bytes.
pub fn decode_whpk(key: &str) -> Result<VerifyingKey, KeyError> {
    let encoded = key.strip_prefix("whpk_").unwrap_or(key);
    let bytes = BASE64.decode(encoded).map_err(|e| KeyError(format!("a whpk_ key is base64 after the prefix: {e}")))?;
    let bytes: [u8; 32] =
        bytes.try_into().map_err(|_| KeyError("a whpk_ key decodes to 32 bytes (an Ed25519 public key)".into()))?;
    VerifyingKey::from_bytes(&bytes).map_err(|e| KeyError(format!("not an Ed25519 public key: {e}")))
}

/// Decodes a Standard Webhooks signing key: `whsk_` followed by the base64 of the 32-byte seed.
pub fn decode_whsk(key: &str) -> Result<SigningKey, KeyError> {
    let encoded = key.strip_prefix("whsk_").unwrap_or(key);
    let bytes = BASE64.decode(encoded).map_err(|e| KeyError(format!("a whsk_ key is base64 after the prefix: {e}")))?;
    let seed: [u8; 32] =
        bytes.try_into().map_err(|_| KeyError("a whsk_ key decodes to 32 bytes (an Ed25519 seed)".into()))?;
    Ok(SigningKey::from_bytes(&seed))
}

/// The `whpk_` form of a signing key's public key.
pub fn encode_whpk(key: &SigningKey) -> String {
    format!("whpk_{}", BASE64.encode(key.verifying_key().as_bytes()))
}

/// The HMAC-SHA256 tag of `parts`, concatenated.
fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Hmac<Sha256> {
    // HMAC takes a key of any length; `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
    for part in parts {
        mac.update(part);
    }
    mac
}

fn hmac_sha512(key: &[u8], parts: &[&[u8]]) -> Hmac<Sha512> {
    let mut mac = <Hmac<Sha512> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes any key"));
    for part in parts {
        mac.update(part);
    }
    mac
}

/// Whether `tag` is the HMAC of `parts` under `key`, in constant time.
fn hmac_matches(algorithm: Algorithm, key: &[u8], parts: &[&[u8]], tag: &[u8]) -> bool {
    match algorithm {
        Algorithm::Sha256 => hmac_sha256(key, parts).verify_slice(tag).is_ok(),
        Algorithm::Sha512 => hmac_sha512(key, parts).verify_slice(tag).is_ok(),
    }
}

/// Signs a Standard Webhooks request with an HMAC key: the `webhook-signature` value `v1,<b64>`.
pub fn sign_v1(key: &[u8], id: &str, timestamp: i64, body: &[u8]) -> String {
    let ts = timestamp.to_string();
    let tag = hmac_sha256(key, &[id.as_bytes(), b".", ts.as_bytes(), b".", body]).finalize().into_bytes();
    format!("v1,{}", BASE64.encode(tag))
}

/// Signs a Standard Webhooks request with an Ed25519 key: `v1a,<b64>`.
pub fn sign_v1a(key: &SigningKey, id: &str, timestamp: i64, body: &[u8]) -> String {
    let mut content = Vec::with_capacity(id.len() + body.len() + 24);
    content.extend_from_slice(id.as_bytes());
    content.push(b'.');
    content.extend_from_slice(timestamp.to_string().as_bytes());
    content.push(b'.');
    content.extend_from_slice(body);
    format!("v1a,{}", BASE64.encode(key.sign(&content).to_bytes()))
}

/// The first of `names` that is present.
fn first_header<'h>(headers: &'h (impl Headers + ?Sized), names: &[&str]) -> Option<&'h str> {
    names.iter().find_map(|n| headers.header(n))
}

fn required<'h>(headers: &'h (impl Headers + ?Sized), names: &[&str]) -> Result<&'h str, VerifyError> {
    first_header(headers, names).ok_or_else(|| VerifyError::MissingHeader(names[0].to_owned()))
}

fn check_time(header: &str, text: &str, now: i64, tolerance_secs: u64) -> Result<i64, VerifyError> {
    let ts: i64 = text.trim().parse().map_err(|_| VerifyError::Malformed {
        header: header.to_owned(),
        problem: "not a Unix time in seconds".to_owned(),
    })?;
    let skew_secs = now.abs_diff(ts);
    if skew_secs > tolerance_secs {
        return Err(VerifyError::Stale { skew_secs, tolerance_secs });
    }
    Ok(ts)
}

impl Scheme {
    /// Verifies a request's signature over `body`, at `now` (Unix seconds), accepting
    /// timestamps within `tolerance_secs` either way.
    pub fn verify(
        &self,
        headers: &(impl Headers + ?Sized),
        body: &[u8],
        now: i64,
        tolerance_secs: u64,
    ) -> Result<Verified, VerifyError> {
        match self {
            Scheme::StandardWebhooks { secrets, public_keys } => {
                let id = required(headers, &["webhook-id", "svix-id"])?;
                let ts_text = required(headers, &["webhook-timestamp", "svix-timestamp"])?;
                let signatures = required(headers, &["webhook-signature", "svix-signature"])?;
                let timestamp = check_time("webhook-timestamp", ts_text, now, tolerance_secs)?;
                let ts = ts_text.trim();
                let content: [&[u8]; 5] = [id.as_bytes(), b".", ts.as_bytes(), b".", body];
                for signature in signatures.split_whitespace() {
                    let Some((version, encoded)) = signature.split_once(',') else { continue };
                    let Ok(tag) = BASE64.decode(encoded) else { continue };
                    let matched = match version {
                        "v1" => secrets.iter().any(|key| hmac_matches(Algorithm::Sha256, key, &content, &tag)),
                        "v1a" => {
                            let message = content.concat();
                            public_keys.iter().any(|key| ed25519_verify(key, &message, &tag))
                        }
                        _ => false,
                    };
                    if matched {
                        return Ok(Verified { delivery_id: Some(id.to_owned()), timestamp: Some(timestamp) });
                    }
                }
                Err(VerifyError::NoMatch)
            }
            Scheme::GitHub { secrets } => {
                let header = "X-Hub-Signature-256";
                let value = required(headers, &[header])?;
                let hex_tag = value.trim().strip_prefix("sha256=").ok_or_else(|| VerifyError::Malformed {
                    header: header.to_owned(),
                    problem: "expected sha256=<hex>".to_owned(),
                })?;
                let tag = hex::decode(hex_tag).map_err(|_| VerifyError::Malformed {
                    header: header.to_owned(),
                    problem: "the signature is not hex".to_owned(),
                })?;
                if !secrets.iter().any(|key| hmac_matches(Algorithm::Sha256, key, &[body], &tag)) {
                    return Err(VerifyError::NoMatch);
                }
                let delivery_id = headers.header("X-GitHub-Delivery").map(str::to_owned);
                Ok(Verified { delivery_id, timestamp: None })
            }
            Scheme::Stripe { secrets } => {
                let header = "Stripe-Signature";
                let value = required(headers, &[header])?;
                let mut ts_text = None;
                let mut tags = Vec::new();
                for part in value.split(',') {
                    match part.trim().split_once('=') {
                        Some(("t", t)) => ts_text = Some(t),
                        // Stripe sends several v1 during a secret's rotation; v0 is a test scheme.
                        Some(("v1", tag)) => tags.extend(hex::decode(tag).ok()),
                        _ => {}
                    }
                }
                let ts_text = ts_text.ok_or_else(|| VerifyError::Malformed {
                    header: header.to_owned(),
                    problem: "no t= timestamp".to_owned(),
                })?;
                let timestamp = check_time(header, ts_text, now, tolerance_secs)?;
                let content: [&[u8]; 3] = [ts_text.trim().as_bytes(), b".", body];
                let matched = tags
                    .iter()
                    .any(|tag| secrets.iter().any(|key| hmac_matches(Algorithm::Sha256, key, &content, tag)));
                if !matched {
                    return Err(VerifyError::NoMatch);
                }
                Ok(Verified { delivery_id: None, timestamp: Some(timestamp) })
            }
            Scheme::Hmac(h) => {
                let value = required(headers, &[h.header.as_str()])?;
                let value = value.trim();
                let encoded = match &h.prefix {
                    Some(prefix) => value.strip_prefix(prefix.as_str()).ok_or_else(|| VerifyError::Malformed {
                        header: h.header.clone(),
                        problem: format!("expected the prefix {prefix:?}"),
                    })?,
                    None => value,
                };
                let tag = match h.encoding {
                    Encoding::Hex => hex::decode(encoded).ok(),
                    Encoding::Base64 => BASE64.decode(encoded).ok(),
                }
                .ok_or_else(|| VerifyError::Malformed {
                    header: h.header.clone(),
                    problem: format!("the signature is not {:?}", h.encoding).to_lowercase(),
                })?;
                if !h.secrets.iter().any(|key| hmac_matches(h.algorithm, key, &[body], &tag)) {
                    return Err(VerifyError::NoMatch);
                }
                let delivery_id = h.id_header.as_deref().and_then(|n| headers.header(n)).map(str::to_owned);
                Ok(Verified { delivery_id, timestamp: None })
            }
        }
    }
}

/// HMAC of `message` under `key`, for test vectors and callers that sign with a generic scheme.
pub fn hmac_tag(algorithm: Algorithm, key: &[u8], message: &[u8]) -> Vec<u8> {
    match algorithm {
        Algorithm::Sha256 => hmac_sha256(key, &[message]).finalize().into_bytes().to_vec(),
        Algorithm::Sha512 => hmac_sha512(key, &[message]).finalize().into_bytes().to_vec(),
    }
}

/// Whether `signature` is `key`'s Ed25519 signature of `message` (strict: non-canonical
/// encodings and small-order keys are refused).
pub fn ed25519_verify(key: &VerifyingKey, message: &[u8], signature: &[u8]) -> bool {
    Signature::from_slice(signature).is_ok_and(|sig| key.verify_strict(message, &sig).is_ok())
}

/// Whether `tag` is the full-length HMAC of `message` under `key` (constant time).
pub fn hmac_verify(algorithm: Algorithm, key: &[u8], message: &[u8], tag: &[u8]) -> bool {
    hmac_matches(algorithm, key, &[message], tag)
}
