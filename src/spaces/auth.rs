//! Spaces socket credentials: user tokens, OAuth2 access tokens and service-app JWTs.
//!
//! The socket authenticates once, in the handshake query (`tokenType=…&token=…`). A connection
//! that is already up is not cut when its token expires, but every **re**connection needs a
//! token that is valid *then*. So adapters hold a [`TokenProvider`] and ask it for a token right
//! before each connection attempt, passing the wall-clock time they read:
//!
//! - a fixed user JWT or OAuth2 token: the [`Token`] itself is a provider;
//! - a service app: [`ServiceKeyProvider`] mints a fresh RS256 JWT from the downloaded
//!   [`ServiceKey`] on every call, because the server refuses any whose `exp` is more than
//!   [`MAX_SERVICE_TOKEN_TTL`] ahead;
//! - anything else (an OAuth2 refresh, a vault): a closure
//!   `FnMut(SystemTime) -> Result<Token, AuthError>` wrapped by [`token_fn`], or a type of
//!   your own implementing the trait.
//!
//! Whether a refused token is worth retrying is the provider's [`TokenProvider::refreshes`];
//! `Box<P>` and `&mut P` forward it, so boxing or borrowing a provider never changes the
//! policy.
//!
//! Nothing here reads a clock or does IO. Tokens and keys are held in [`Secret`] or in
//! `jsonwebtoken`'s zeroizing [`EncodingKey`], so `Debug` output and error messages never
//! contain them.

use core::fmt;
use std::time::{Duration, SystemTime};
// Service-app minting (feature `service-app`, on by default) is the only user of these.
#[cfg(feature = "service-app")]
use std::time::UNIX_EPOCH;

#[cfg(feature = "service-app")]
use base64::Engine as _;
#[cfg(feature = "service-app")]
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
#[cfg(feature = "service-app")]
use jsonwebtoken::{Algorithm, EncodingKey};
#[cfg(feature = "service-app")]
use serde::Serialize;
#[cfg(feature = "service-app")]
use serde_json::Value;

use crate::redact::Secret;

/// The `aud` claim Spaces expects in a service-app JWT.
pub const SPACES_AUDIENCE: &str = "spaces.avayacloud.com";

/// The longest lifetime (`exp` minus now) Spaces accepts for a service-app JWT.
///
/// The server rejects a token whose `exp` is further ahead than this, measured on *its* clock;
/// a ttl of exactly this much leaves no room for our clock running ahead of the server's, so
/// prefer [`DEFAULT_SERVICE_TOKEN_TTL`].
pub const MAX_SERVICE_TOKEN_TTL: Duration = Duration::from_secs(3600);

/// A sensible service-app JWT lifetime: ten minutes.
///
/// The token is only checked during the handshake, and a fresh one is minted for every
/// connection, so a short lifetime costs nothing; it limits the use of a leaked token and leaves
/// 50 minutes of slack for clock skew against [`MAX_SERVICE_TOKEN_TTL`].
pub const DEFAULT_SERVICE_TOKEN_TTL: Duration = Duration::from_secs(600);

/// What kind of token the server must verify; sent as the `tokenType` query parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenType {
    /// A JWT: a user JWT, an anonymous guest JWT or a service-app JWT (`tokenType=jwt`).
    Jwt,
    /// An OAuth2 access token from Avaya Cloud Identity (`tokenType=oauth`).
    OAuth,
}

impl TokenType {
    /// The query-string value: `"jwt"` or `"oauth"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Jwt => "jwt",
            Self::OAuth => "oauth",
        }
    }
}

impl fmt::Display for TokenType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A socket credential: its [`TokenType`] and the token itself, kept as a [`Secret`].
///
/// `Debug` shows the type only. Put it on the wire with [`Token::query_pairs`] (the URL builder
/// must percent-encode the values; JWTs need none, opaque OAuth2 tokens are hex).
///
/// A `Token` is also a [`TokenProvider`] that always hands out a copy of itself.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    kind: TokenType,
    value: Secret<String>,
}

impl Token {
    /// A JWT: user, anonymous guest (`POST /api/anonymous/auth`) or service app.
    pub fn jwt(value: impl Into<String>) -> Self {
        Self {
            kind: TokenType::Jwt,
            value: Secret::new(value.into()),
        }
    }

    /// An OAuth2 access token (Avaya Cloud Identity).
    pub fn oauth(value: impl Into<String>) -> Self {
        Self {
            kind: TokenType::OAuth,
            value: Secret::new(value.into()),
        }
    }

    /// Which kind of token this is.
    pub fn token_type(&self) -> TokenType {
        self.kind
    }

    /// The token itself. For the wire only, never for a log line.
    pub fn expose(&self) -> &str {
        self.value.expose()
    }

    /// The handshake query parameters, in the order the Spaces guide writes them:
    /// `[("tokenType", "jwt" | "oauth"), ("token", <token>)]`.
    ///
    /// The values are not percent-encoded.
    pub fn query_pairs(&self) -> [(&'static str, &str); 2] {
        [("tokenType", self.kind.as_str()), ("token", self.expose())]
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("kind", &self.kind)
            .field("value", &self.value)
            .finish()
    }
}

/// Why a credential could not be produced. Messages never contain key material or tokens.
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The service key file is not usable: not JSON, not an object, or a required field
    /// (`iss`, `sub`, `kid`, `private_key`) is missing, empty or not a string.
    #[error("bad service key file: {0}")]
    BadKeyFile(KeyFileProblem),
    /// `private_key` is not an RSA private key that can sign RS256 (PEM, PKCS#1
    /// `BEGIN RSA PRIVATE KEY` or PKCS#8 `BEGIN PRIVATE KEY`, 2048 to 8192 bits).
    #[error("service key file: private_key is not a usable RSA private key (PEM PKCS#1 or PKCS#8)")]
    BadPrivateKey,
    /// The requested JWT lifetime exceeds [`MAX_SERVICE_TOKEN_TTL`]; Spaces would reject it.
    #[error("service-app token lifetime {ttl:?} exceeds the 3600 s Spaces accepts")]
    TtlTooLong {
        /// The lifetime that was asked for.
        ttl: Duration,
    },
    /// The requested JWT lifetime is shorter than one second (`exp` is in whole seconds, so the
    /// token would already be expired).
    #[error("service-app token lifetime must be at least one second")]
    TtlZero,
    /// The wall-clock time passed in is before 1970-01-01; a JWT `exp` cannot express it.
    #[error("wall-clock time is before the Unix epoch")]
    ClockBeforeEpoch,
    /// `now + ttl` does not fit in a `u64` of seconds: the wall-clock time passed in is absurd.
    #[error("wall-clock time plus token lifetime overflows")]
    ClockOverflow,
    /// The crypto backend failed to sign. The key passed a trial signature when it was loaded,
    /// so this points at the backend, not at the key file.
    #[error("signing the service-app JWT failed")]
    Signing,
    /// A custom [`TokenProvider`] failed; the text is the provider's own and must not contain a
    /// secret.
    #[error("token provider failed: {0}")]
    Provider(String),
}

/// What is wrong with a service key file (see [`AuthError::BadKeyFile`]).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyFileProblem {
    /// Not valid JSON; the position of the first error (1-based).
    Syntax {
        /// Line of the error.
        line: usize,
        /// Column of the error.
        column: usize,
    },
    /// Valid JSON, but not an object.
    NotAnObject,
    /// A required field is absent, `null` or the empty string.
    MissingField(&'static str),
    /// A required field is present but not a string.
    NotAString(&'static str),
}

impl fmt::Display for KeyFileProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Syntax { line, column } => {
                write!(f, "not valid JSON (line {line}, column {column})")
            }
            Self::NotAnObject => f.write_str("not a JSON object"),
            Self::MissingField(field) => write!(f, "field `{field}` is missing or empty"),
            Self::NotAString(field) => write!(f, "field `{field}` is not a string"),
        }
    }
}

/// A service app's signing key: the downloaded `service-key-<kid>.json` file.
///
/// The file holds `{"iss", "sub", "kid", "private_key"}`; `private_key` is an RSA key in PEM
/// (PKCS#1 `BEGIN RSA PRIVATE KEY` as downloaded; PKCS#8 `BEGIN PRIVATE KEY` is accepted too).
/// Other fields are ignored. The key is parsed and test-signed when loaded, so a bad file fails
/// in [`ServiceKey::from_json`], not at the first connection.
///
/// `Debug` shows `iss`, `sub` and `kid`: they identify the app and the key (what to revoke in
/// the Spaces admin page) and are sent in clear in every JWT anyway. The private key is never
/// shown. The Spaces guide asks to treat the file like a password and delete it once loaded.
///
/// Next: [`ServiceKey::mint`] for one token, or [`ServiceKeyProvider`] to mint per connection.
///
/// Needs the `service-app` feature (on by default).
#[cfg(feature = "service-app")]
#[cfg_attr(docsrs, doc(cfg(feature = "service-app")))]
#[derive(Clone)]
pub struct ServiceKey {
    iss: String,
    sub: String,
    kid: String,
    /// `jsonwebtoken` keeps the DER and zeroizes it on drop; its `Debug` is redacted too.
    key: EncodingKey,
}

#[cfg(feature = "service-app")]
impl fmt::Debug for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServiceKey")
            .field("iss", &self.iss)
            .field("sub", &self.sub)
            .field("kid", &self.kid)
            .field("private_key", &"<redacted>")
            .finish()
    }
}

#[cfg(feature = "service-app")]
/// JWT header, in the field order of the Spaces guide.
#[derive(Serialize)]
struct JwtHeader<'a> {
    typ: &'static str,
    alg: &'static str,
    kid: &'a str,
}

#[cfg(feature = "service-app")]
/// JWT claims, in the field order of the Spaces guide.
#[derive(Serialize)]
struct JwtClaims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'static str,
    exp: u64,
}

#[cfg(feature = "service-app")]
impl ServiceKey {
    /// Loads a downloaded service key file (its JSON text).
    ///
    /// Line breaks written raw inside the JSON strings (as the Spaces guide prints the
    /// `private_key`) are accepted as if they were `\n` escapes.
    ///
    /// # Errors
    /// [`AuthError::BadKeyFile`] for a malformed file or a missing field,
    /// [`AuthError::BadPrivateKey`] when `private_key` cannot sign RS256.
    pub fn from_json(json: &str) -> Result<Self, AuthError> {
        let text = escape_raw_line_breaks_in_strings(json);
        // Parsed as a `Value`, not a derived struct: serde's messages for a derived struct can
        // quote the offending value, and here that value may be the private key.
        let value: Value = serde_json::from_str(&text).map_err(|e| {
            AuthError::BadKeyFile(KeyFileProblem::Syntax {
                line: e.line(),
                column: e.column(),
            })
        })?;
        let Value::Object(map) = value else {
            return Err(AuthError::BadKeyFile(KeyFileProblem::NotAnObject));
        };
        let field = |name: &'static str| -> Result<&str, AuthError> {
            match map.get(name) {
                None | Some(Value::Null) => Err(KeyFileProblem::MissingField(name)),
                Some(Value::String(s)) if s.is_empty() => Err(KeyFileProblem::MissingField(name)),
                Some(Value::String(s)) => Ok(s.as_str()),
                Some(_) => Err(KeyFileProblem::NotAString(name)),
            }
            .map_err(AuthError::BadKeyFile)
        };
        Self::new(
            field("iss")?,
            field("sub")?,
            field("kid")?,
            field("private_key")?,
        )
    }

    /// Builds a key from its parts, e.g. when the fields come from separate secrets.
    ///
    /// # Errors
    /// [`AuthError::BadKeyFile`] if `iss`, `sub` or `kid` is empty,
    /// [`AuthError::BadPrivateKey`] when `private_key_pem` cannot sign RS256.
    pub fn new(iss: &str, sub: &str, kid: &str, private_key_pem: &str) -> Result<Self, AuthError> {
        for (name, value) in [
            ("iss", iss),
            ("sub", sub),
            ("kid", kid),
            ("private_key", private_key_pem),
        ] {
            if value.is_empty() {
                return Err(AuthError::BadKeyFile(KeyFileProblem::MissingField(name)));
            }
        }
        let key = EncodingKey::from_rsa_pem(private_key_pem.as_bytes())
            .map_err(|_| AuthError::BadPrivateKey)?;
        // `from_rsa_pem` only checks the PEM/ASN.1 framing; the RSA key itself is parsed by the
        // backend at signing time. One trial signature makes a bad key fail here, at load time.
        sign_rs256(&key, b"spaces-socket key check").map_err(|_| AuthError::BadPrivateKey)?;
        Ok(Self {
            iss: iss.to_owned(),
            sub: sub.to_owned(),
            kid: kid.to_owned(),
            key,
        })
    }

    /// The key id (`kid`), sent in the JWT header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The issuer (`iss` claim): the service app's id.
    pub fn iss(&self) -> &str {
        &self.iss
    }

    /// The subject (`sub` claim): the service account.
    pub fn sub(&self) -> &str {
        &self.sub
    }

    /// Mints an RS256 service-app JWT valid until `now_unix_secs + ttl`.
    ///
    /// Header `{"typ":"JWT","alg":"RS256","kid":<kid>}`, claims
    /// `{"iss","sub","aud":"spaces.avayacloud.com","exp"}`, exactly as the Spaces guide shows.
    /// `ttl` is counted in whole seconds (a fraction is dropped). `now_unix_secs` is wall-clock
    /// time the caller read. Returns a [`Token::jwt`].
    ///
    /// # Errors
    /// [`AuthError::TtlZero`] for a ttl under one second, [`AuthError::TtlTooLong`] above
    /// [`MAX_SERVICE_TOKEN_TTL`], [`AuthError::ClockOverflow`], [`AuthError::Signing`].
    pub fn mint(&self, now_unix_secs: u64, ttl: Duration) -> Result<Token, AuthError> {
        let ttl_secs = check_ttl(ttl)?;
        let exp = now_unix_secs
            .checked_add(ttl_secs)
            .ok_or(AuthError::ClockOverflow)?;
        let header = JwtHeader {
            typ: "JWT",
            alg: "RS256",
            kid: &self.kid,
        };
        let claims = JwtClaims {
            iss: &self.iss,
            sub: &self.sub,
            aud: SPACES_AUDIENCE,
            exp,
        };
        let mut jwt = b64_json(&header)?;
        jwt.push('.');
        jwt.push_str(&b64_json(&claims)?);
        let signature = sign_rs256(&self.key, jwt.as_bytes()).map_err(|_| AuthError::Signing)?;
        jwt.push('.');
        jwt.push_str(&URL_SAFE_NO_PAD.encode(signature));
        Ok(Token::jwt(jwt))
    }
}

#[cfg(feature = "service-app")]
/// Validates a service-token lifetime and returns it in whole seconds.
fn check_ttl(ttl: Duration) -> Result<u64, AuthError> {
    if ttl > MAX_SERVICE_TOKEN_TTL {
        return Err(AuthError::TtlTooLong { ttl });
    }
    match ttl.as_secs() {
        0 => Err(AuthError::TtlZero),
        secs => Ok(secs),
    }
}

#[cfg(feature = "service-app")]
/// Base64url (no padding) of the JSON of `value`: one JWT segment.
fn b64_json<T: Serialize>(value: &T) -> Result<String, AuthError> {
    // Serializing these plain string/number structs cannot fail; map it anyway rather than panic.
    let json = serde_json::to_vec(value).map_err(|_| AuthError::Signing)?;
    Ok(URL_SAFE_NO_PAD.encode(json))
}

#[cfg(feature = "service-app")]
/// Signs with RSASSA-PKCS1-v1_5 SHA-256.
///
/// Calls the aws-lc-rs provider directly instead of `jsonwebtoken::encode`, which goes through
/// the process-wide default provider: that lookup panics when feature unification enables both
/// of jsonwebtoken's backends and nobody installed a default.
fn sign_rs256(key: &EncodingKey, message: &[u8]) -> Result<Vec<u8>, ()> {
    let provider = &jsonwebtoken::crypto::aws_lc::DEFAULT_PROVIDER;
    let signer = (provider.signer_factory)(&Algorithm::RS256, key).map_err(|_| ())?;
    signer.try_sign(message).map_err(|_| ())
}

#[cfg(feature = "service-app")]
/// Turns raw CR/LF/TAB characters inside JSON string literals into escapes.
///
/// Such characters are invalid JSON, so this never changes the meaning of a valid document;
/// it only rescues key files pasted the way the Spaces guide prints them (a multi-line PEM
/// inside the string).
fn escape_raw_line_breaks_in_strings(json: &str) -> std::borrow::Cow<'_, str> {
    if !json.contains(['\n', '\r', '\t']) {
        return std::borrow::Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 64);
    let mut in_string = false;
    let mut escaped = false;
    for c in json.chars() {
        if in_string {
            if escaped {
                escaped = false;
            } else {
                match c {
                    '\\' => escaped = true,
                    '"' => in_string = false,
                    '\n' => {
                        out.push_str("\\n");
                        continue;
                    }
                    '\r' => {
                        out.push_str("\\r");
                        continue;
                    }
                    '\t' => {
                        out.push_str("\\t");
                        continue;
                    }
                    _ => {}
                }
            }
        } else if c == '"' {
            in_string = true;
        }
        out.push(c);
    }
    std::borrow::Cow::Owned(out)
}

/// Hands out a token for each connection attempt.
///
/// Adapters call [`TokenProvider::token`] right before every (re)connection, with the
/// wall-clock time they just read, and put the result in the handshake query. Implemented by
/// [`Token`] (a fixed token), [`ServiceKeyProvider`] (a fresh service-app JWT per call),
/// [`TokenFn`] (a closure, from [`token_fn`]), and forwarded, [`refreshes`](Self::refreshes)
/// included, by `Box<P>` (also `Box<dyn TokenProvider>`) and `&mut P`: wrapping a provider in
/// a box or lending it out never turns a fixed token into one that is retried.
pub trait TokenProvider: Send {
    /// A token valid at `now` (wall-clock time read by the caller).
    ///
    /// # Errors
    /// Whatever stops the provider from producing a token; the connection attempt should fail
    /// with it rather than go out without credentials.
    fn token(&mut self, now: SystemTime) -> Result<Token, AuthError>;

    /// Whether the next call may give a different token, so that a connection refused for its
    /// credentials is worth retrying (default `true`: minted or refreshed tokens). A fixed
    /// [`Token`] says `false`: the session stops at the first refusal. A wrapper around another
    /// provider must forward this (as `Box<P>` and `&mut P` do) rather than take the default.
    fn refreshes(&self) -> bool {
        true
    }
}

impl<P: TokenProvider + ?Sized> TokenProvider for Box<P> {
    fn token(&mut self, now: SystemTime) -> Result<Token, AuthError> {
        (**self).token(now)
    }

    fn refreshes(&self) -> bool {
        (**self).refreshes()
    }
}

impl<P: TokenProvider + ?Sized> TokenProvider for &mut P {
    fn token(&mut self, now: SystemTime) -> Result<Token, AuthError> {
        (**self).token(now)
    }

    fn refreshes(&self) -> bool {
        (**self).refreshes()
    }
}

/// A closure `FnMut(SystemTime) -> Result<Token, AuthError>` as a [`TokenProvider`] that
/// refreshes (each call may give a new token, so a refused one is retried): an OAuth2
/// refresh, a vault. Made by [`token_fn`].
///
/// ```
/// use std::time::SystemTime;
/// use spaces_socket::spaces::{Token, TokenProvider, token_fn};
///
/// let mut n = 0;
/// let mut tokens = token_fn(move |_now: SystemTime| {
///     n += 1;
///     Ok(Token::oauth(format!("access-{n}")))
/// });
/// assert!(tokens.refreshes());
/// assert_eq!(tokens.token(SystemTime::now())?.expose(), "access-1");
/// # Ok::<(), spaces_socket::spaces::AuthError>(())
/// ```
#[derive(Clone, Copy)]
pub struct TokenFn<F>(F);

impl<F> fmt::Debug for TokenFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenFn(..)")
    }
}

/// Wraps a closure as a refreshing [`TokenProvider`]: see [`TokenFn`].
pub fn token_fn<F>(f: F) -> TokenFn<F>
where
    F: FnMut(SystemTime) -> Result<Token, AuthError> + Send,
{
    TokenFn(f)
}

impl<F> TokenProvider for TokenFn<F>
where
    F: FnMut(SystemTime) -> Result<Token, AuthError> + Send,
{
    fn token(&mut self, now: SystemTime) -> Result<Token, AuthError> {
        (self.0)(now)
    }
}

impl TokenProvider for Token {
    fn token(&mut self, _now: SystemTime) -> Result<Token, AuthError> {
        Ok(self.clone())
    }

    fn refreshes(&self) -> bool {
        false
    }
}

/// A [`TokenProvider`] that mints a fresh service-app JWT, valid for `ttl`, on every call.
///
/// Needs the `service-app` feature (on by default).
#[cfg(feature = "service-app")]
#[cfg_attr(docsrs, doc(cfg(feature = "service-app")))]
#[derive(Debug, Clone)]
pub struct ServiceKeyProvider {
    key: ServiceKey,
    ttl: Duration,
}

#[cfg(feature = "service-app")]
impl ServiceKeyProvider {
    /// Wraps a loaded key; every token it mints lives `ttl` (try
    /// [`DEFAULT_SERVICE_TOKEN_TTL`]).
    ///
    /// # Errors
    /// [`AuthError::TtlZero`] or [`AuthError::TtlTooLong`], checked now rather than at the
    /// first connection.
    pub fn new(key: ServiceKey, ttl: Duration) -> Result<Self, AuthError> {
        check_ttl(ttl)?;
        Ok(Self { key, ttl })
    }

    /// The key tokens are minted with.
    pub fn key(&self) -> &ServiceKey {
        &self.key
    }

    /// The lifetime of each minted token.
    pub fn ttl(&self) -> Duration {
        self.ttl
    }
}

#[cfg(feature = "service-app")]
impl TokenProvider for ServiceKeyProvider {
    fn token(&mut self, now: SystemTime) -> Result<Token, AuthError> {
        let now_unix = now
            .duration_since(UNIX_EPOCH)
            .map_err(|_| AuthError::ClockBeforeEpoch)?;
        self.key.mint(now_unix.as_secs(), self.ttl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::UNIX_EPOCH;

    #[test]
    fn token_query_pairs_follow_the_guide_order() {
        let t = Token::oauth("f746696f");
        assert_eq!(
            t.query_pairs(),
            [("tokenType", "oauth"), ("token", "f746696f")]
        );
        assert_eq!(Token::jwt("a.b.c").query_pairs()[0], ("tokenType", "jwt"));
        assert_eq!(t.token_type(), TokenType::OAuth);
    }

    #[test]
    fn token_debug_shows_type_not_value() {
        let dbg = format!("{:?}", Token::jwt("eyJhbGciOi.secretpart.sig"));
        assert!(dbg.contains("Jwt"), "{dbg}");
        assert!(!dbg.contains("secretpart"), "{dbg}");
    }

    #[test]
    fn fixed_token_and_closures_are_providers() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut fixed = Token::jwt("fixed");
        assert_eq!(
            fixed
                .token(now)
                .map(|t| t.expose().to_owned())
                .ok()
                .as_deref(),
            Some("fixed")
        );

        let mut calls = 0u32;
        let mut counting = token_fn(move |at: SystemTime| {
            calls += 1;
            let secs = at
                .duration_since(UNIX_EPOCH)
                .map_err(|_| AuthError::ClockBeforeEpoch)?;
            Ok(Token::oauth(format!("{}-{calls}", secs.as_secs())))
        });
        assert_eq!(
            counting
                .token(now)
                .map(|t| t.expose().to_owned())
                .ok()
                .as_deref(),
            Some("1700000000-1")
        );
        // Usable behind a trait object, as adapters will store it.
        let mut boxed: Box<dyn TokenProvider> = Box::new(counting);
        assert_eq!(
            boxed
                .token(now)
                .map(|t| t.expose().to_owned())
                .ok()
                .as_deref(),
            Some("1700000000-2")
        );

        let mut failing = token_fn(|_: SystemTime| -> Result<Token, AuthError> {
            Err(AuthError::Provider("vault down".into()))
        });
        assert!(matches!(failing.token(now), Err(AuthError::Provider(m)) if m == "vault down"));
    }

    #[cfg(feature = "service-app")]
    #[test]
    fn boxes_and_references_forward_whether_the_provider_refreshes() {
        let fixed: Box<dyn TokenProvider> = Box::new(Token::oauth("fixed"));
        assert!(!fixed.refreshes());
        fn refreshes<P: TokenProvider>(p: &P) -> bool {
            p.refreshes()
        }
        let mut twice = Box::new(fixed);
        assert!(!refreshes(&twice));
        let lent = &mut twice;
        assert!(!refreshes(&lent));
        let mut token = Token::jwt("t");
        let lent = &mut token;
        assert!(!refreshes(&lent));
        let refreshing: Box<dyn TokenProvider> = Box::new(token_fn(|_| Ok(Token::jwt("fresh"))));
        assert!(refreshing.refreshes());
        assert!(!format!("{:?}", token_fn(|_| Ok(Token::jwt("fresh")))).contains("fresh"));
    }

    #[test]
    fn ttl_bounds() {
        assert!(matches!(check_ttl(Duration::ZERO), Err(AuthError::TtlZero)));
        assert!(matches!(
            check_ttl(Duration::from_millis(999)),
            Err(AuthError::TtlZero)
        ));
        assert_eq!(check_ttl(Duration::from_millis(1500)).ok(), Some(1));
        assert_eq!(check_ttl(MAX_SERVICE_TOKEN_TTL).ok(), Some(3600));
        let over = Duration::from_millis(3_600_001);
        assert!(matches!(check_ttl(over), Err(AuthError::TtlTooLong { ttl }) if ttl == over));
    }

    #[cfg(feature = "service-app")]
    #[test]
    fn raw_line_breaks_inside_strings_become_escapes_only_there() {
        let input = "{\n \"a\": \"x\ny\",\r\n \"b\": \"q\\\"\n\"\t}";
        let fixed = escape_raw_line_breaks_in_strings(input);
        assert_eq!(fixed, "{\n \"a\": \"x\\ny\",\r\n \"b\": \"q\\\"\\n\"\t}");
        let v: Value = serde_json::from_str(&fixed).unwrap_or(Value::Null);
        assert_eq!(v["a"], "x\ny");
        assert_eq!(v["b"], "q\"\n");
    }

    #[cfg(feature = "service-app")]
    #[test]
    fn key_file_shape_errors_are_typed() {
        let err = |json: &str| ServiceKey::from_json(json).err();
        assert!(matches!(
            err("{"),
            Some(AuthError::BadKeyFile(KeyFileProblem::Syntax {
                line: 1,
                ..
            }))
        ));
        assert!(matches!(
            err("[1]"),
            Some(AuthError::BadKeyFile(KeyFileProblem::NotAnObject))
        ));
        assert!(matches!(
            err(r#"{"iss":"i","sub":"s","private_key":"k"}"#),
            Some(AuthError::BadKeyFile(KeyFileProblem::MissingField("kid")))
        ));
        assert!(matches!(
            err(r#"{"iss":"","sub":"s","kid":"k","private_key":"k"}"#),
            Some(AuthError::BadKeyFile(KeyFileProblem::MissingField("iss")))
        ));
        assert!(matches!(
            err(r#"{"iss":"i","sub":7,"kid":"k","private_key":"k"}"#),
            Some(AuthError::BadKeyFile(KeyFileProblem::NotAString("sub")))
        ));
        assert!(matches!(
            err(r#"{"iss":"i","sub":"s","kid":"k","private_key":"not a pem"}"#),
            Some(AuthError::BadPrivateKey)
        ));
    }
}
