//! SCRAM-SHA-256 (RFC 5802/7677) as PostgreSQL does it: verifiers in PostgreSQL's
//! `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` format and the server side
//! of the exchange.
//!
//! We verify against StoredKey/ServerKey, never a password-equivalent SaltedPassword, so a
//! leaked config file does not let anyone log in. pgwire 0.41's SCRAM needs the salted
//! password, which is why this lives here. No networking: `server::auth` drives it.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ring::{digest, hmac, pbkdf2, rand::SecureRandom};

/// Iterations for new verifiers (PostgreSQL's default).
pub const DEFAULT_ITERATIONS: u32 = 4096;

/// What the server stores for one user.
#[derive(Clone, PartialEq, Eq)]
pub struct Verifier {
    pub iterations: u32,
    pub salt: Vec<u8>,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Verifier(<redacted>)")
    }
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let key = hmac::Key::new(hmac::HMAC_SHA256, key);
    hmac::sign(&key, data).as_ref().to_vec()
}

/// Compares without an early exit, so timing does not reveal how much matched.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn sha256(data: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, data).as_ref().to_vec()
}

/// Fills a buffer from the system's secure random source.
pub fn random_bytes(len: usize) -> Vec<u8> {
    let mut buf = vec![0u8; len];
    ring::rand::SystemRandom::new()
        .fill(&mut buf)
        // The OS random source failing is not recoverable; PostgreSQL aborts too.
        .expect("system random source");
    buf
}

impl Verifier {
    /// Derives a verifier from a plain-text password with a fresh random salt.
    pub fn from_password(password: &str) -> Self {
        Self::derive(password, &random_bytes(16), DEFAULT_ITERATIONS)
    }

    /// Derives a verifier with the given salt and iteration count.
    pub fn derive(password: &str, salt: &[u8], iterations: u32) -> Self {
        // SASLprep is the identity for ASCII passwords; like PostgreSQL we use the raw
        // bytes when normalisation does not apply.
        let mut salted = [0u8; 32];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            std::num::NonZeroU32::new(iterations.max(1)).expect("max(1) is non-zero"),
            salt,
            password.as_bytes(),
            &mut salted,
        );
        let client_key = hmac_sha256(&salted, b"Client Key");
        Self {
            iterations,
            salt: salt.to_vec(),
            stored_key: sha256(&client_key),
            server_key: hmac_sha256(&salted, b"Server Key"),
        }
    }

    /// Parses PostgreSQL's verifier format; `None` when malformed.
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix("SCRAM-SHA-256$")?;
        let (params, keys) = rest.split_once('$')?;
        let (iterations, salt) = params.split_once(':')?;
        let (stored, server) = keys.split_once(':')?;
        let v = Self {
            iterations: iterations.parse().ok().filter(|i| *i > 0)?,
            salt: B64.decode(salt).ok()?,
            stored_key: B64.decode(stored).ok()?,
            server_key: B64.decode(server).ok()?,
        };
        (v.stored_key.len() == 32 && v.server_key.len() == 32).then_some(v)
    }

    /// A configured password: a verifier as is, plain text derived with a random salt.
    pub fn from_config(password: &str) -> Option<Self> {
        if password.starts_with("SCRAM-SHA-256$") {
            Self::parse(password)
        } else {
            Some(Self::from_password(password))
        }
    }
}

impl std::fmt::Display for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "SCRAM-SHA-256${}:{}${}:{}",
            self.iterations,
            B64.encode(&self.salt),
            B64.encode(&self.stored_key),
            B64.encode(&self.server_key)
        )
    }
}

/// Why an exchange failed.
#[derive(Debug, PartialEq, Eq)]
pub enum ScramError {
    /// The client's message does not follow the protocol.
    Protocol(String),
    /// The proof does not match: wrong password (or unknown user).
    BadProof,
}

/// The server's state between its first message and the client's final message.
#[derive(Debug)]
pub struct ServerFirst {
    verifier: Verifier,
    gs2_header: String,
    client_first_bare: String,
    server_first: String,
    nonce: String,
}

/// Handles the client-first-message and returns the server-first-message to send.
///
/// # Errors
/// The message is malformed or asks for channel binding we did not offer.
pub fn server_first(
    client_first: &[u8],
    verifier: Verifier,
) -> Result<(String, ServerFirst), ScramError> {
    let text = std::str::from_utf8(client_first)
        .map_err(|_| ScramError::Protocol("client-first-message is not UTF-8".into()))?;
    // gs2-header: cbind-flag "," [authzid] ","
    let mut parts = text.splitn(3, ',');
    let cbind = parts.next().unwrap_or_default();
    let authzid = parts
        .next()
        .ok_or_else(|| ScramError::Protocol("missing gs2 header".into()))?;
    let bare = parts
        .next()
        .ok_or_else(|| ScramError::Protocol("missing client-first-message-bare".into()))?;
    if cbind.starts_with("p=") {
        return Err(ScramError::Protocol(
            "channel binding is not supported by this server".into(),
        ));
    }
    if cbind != "n" && cbind != "y" {
        return Err(ScramError::Protocol("invalid channel-binding flag".into()));
    }
    let client_nonce = bare
        .split(',')
        .find_map(|a| a.strip_prefix("r="))
        .filter(|n| !n.is_empty())
        .ok_or_else(|| ScramError::Protocol("missing client nonce".into()))?;
    let nonce = format!("{client_nonce}{}", B64.encode(random_bytes(18)));
    let server_first = format!(
        "r={nonce},s={},i={}",
        B64.encode(&verifier.salt),
        verifier.iterations
    );
    Ok((
        server_first.clone(),
        ServerFirst {
            verifier,
            gs2_header: format!("{cbind},{authzid},"),
            client_first_bare: bare.to_owned(),
            server_first,
            nonce,
        },
    ))
}

impl ServerFirst {
    /// Checks the client-final-message; on success returns the server-final-message.
    ///
    /// # Errors
    /// Malformed message, nonce or channel-binding mismatch, or a wrong proof.
    pub fn server_final(self, client_final: &[u8]) -> Result<String, ScramError> {
        let text = std::str::from_utf8(client_final)
            .map_err(|_| ScramError::Protocol("client-final-message is not UTF-8".into()))?;
        let (without_proof, proof) = text
            .rsplit_once(",p=")
            .ok_or_else(|| ScramError::Protocol("missing proof".into()))?;
        let mut channel_binding = None;
        let mut nonce = None;
        for attr in without_proof.split(',') {
            if let Some(c) = attr.strip_prefix("c=") {
                channel_binding = Some(c);
            } else if let Some(r) = attr.strip_prefix("r=") {
                nonce = Some(r);
            }
        }
        if channel_binding != Some(B64.encode(self.gs2_header.as_bytes()).as_str()) {
            return Err(ScramError::Protocol("channel binding mismatch".into()));
        }
        if nonce != Some(self.nonce.as_str()) {
            return Err(ScramError::Protocol("nonce mismatch".into()));
        }
        let proof = B64
            .decode(proof)
            .map_err(|_| ScramError::Protocol("proof is not base64".into()))?;
        let auth_message = format!(
            "{},{},{}",
            self.client_first_bare, self.server_first, without_proof
        );
        let client_signature = hmac_sha256(&self.verifier.stored_key, auth_message.as_bytes());
        if proof.len() != client_signature.len() {
            return Err(ScramError::BadProof);
        }
        let client_key: Vec<u8> = proof
            .iter()
            .zip(&client_signature)
            .map(|(a, b)| a ^ b)
            .collect();
        let computed = sha256(&client_key);
        if !constant_time_eq(&computed, &self.verifier.stored_key) {
            return Err(ScramError::BadProof);
        }
        let server_signature = hmac_sha256(&self.verifier.server_key, auth_message.as_bytes());
        Ok(format!("v={}", B64.encode(server_signature)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verifier_round_trips_through_text() {
        let v = Verifier::derive("secret", b"0123456789abcdef", 4096);
        assert_eq!(Verifier::parse(&v.to_string()), Some(v));
        assert!(Verifier::parse("SCRAM-SHA-256$x").is_none());
    }

    #[test]
    fn rfc7677_test_vector() {
        let v = Verifier::derive(
            "pencil",
            &B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").unwrap(),
            4096,
        );
        let nonce = "rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
        let state = ServerFirst {
            verifier: v,
            gs2_header: "n,,".into(),
            client_first_bare: "n=user,r=rOprNGfwEbeRWgbNEkqO".into(),
            server_first: format!("r={nonce},s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"),
            nonce: nonce.into(),
        };
        let client_final =
            format!("c=biws,r={nonce},p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
        assert_eq!(
            state.server_final(client_final.as_bytes()).unwrap(),
            "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
    }

    /// Runs the client side of RFC 5802 by hand.
    fn client_final(password: &str, server_first: &str, client_first_bare: &str) -> String {
        let mut salt = None;
        let mut iters = None;
        let mut nonce = None;
        for a in server_first.split(',') {
            if let Some(s) = a.strip_prefix("s=") {
                salt = Some(B64.decode(s).unwrap());
            } else if let Some(i) = a.strip_prefix("i=") {
                iters = Some(i.parse::<u32>().unwrap());
            } else if let Some(r) = a.strip_prefix("r=") {
                nonce = Some(r.to_owned());
            }
        }
        let mut salted = [0u8; 32];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            std::num::NonZeroU32::new(iters.unwrap()).unwrap(),
            &salt.unwrap(),
            password.as_bytes(),
            &mut salted,
        );
        let client_key = hmac_sha256(&salted, b"Client Key");
        let stored = sha256(&client_key);
        let without_proof = format!("c={},r={}", B64.encode("n,,"), nonce.unwrap());
        let auth = format!("{client_first_bare},{server_first},{without_proof}");
        let sig = hmac_sha256(&stored, auth.as_bytes());
        let proof: Vec<u8> = client_key.iter().zip(&sig).map(|(a, b)| a ^ b).collect();
        format!("{without_proof},p={}", B64.encode(proof))
    }

    #[test]
    fn exchange_accepts_right_and_rejects_wrong_password() {
        let v = Verifier::from_password("right");
        for (pw, ok) in [("right", true), ("wrong", false)] {
            let (sf, state) = server_first(b"n,,n=,r=abc", v.clone()).unwrap();
            let cf = client_final(pw, &sf, "n=,r=abc");
            assert_eq!(state.server_final(cf.as_bytes()).is_ok(), ok);
        }
    }

    #[test]
    fn channel_binding_request_is_refused() {
        let v = Verifier::from_password("x");
        assert!(server_first(b"p=tls-server-end-point,,n=,r=abc", v).is_err());
    }
}
