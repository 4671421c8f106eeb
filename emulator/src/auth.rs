//! Who may join the emulator's namespace: the [`Authenticator`] trait and the trusting
//! [`DemoAuth`].

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use serde_json::{Map, Value};

/// An authenticated Spaces identity, as it appears in `sender` objects.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct User {
    /// The user id (`sender._id`).
    pub id: String,
    /// The login name (`sender.username`), usually an e-mail address.
    pub username: String,
    /// The name shown to others (`sender.displayname`).
    pub displayname: String,
    /// `sender.type`: `"user"` for accounts, `"anonymous"` for guests.
    pub kind: String,
}

impl User {
    /// A `"user"` whose username and display name are both `name`.
    pub fn named(id: impl Into<String>, name: impl Into<String>) -> Self {
        let name = name.into();
        Self {
            id: id.into(),
            username: name.clone(),
            displayname: name,
            kind: "user".to_owned(),
        }
    }
}

/// Why a token was refused. Sent to the client as
/// `44/chat,{"message":…,"code":…,"type":"UnauthorizedError"}`, the socketio-jwt error the
/// 2016 Spaces server produced.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AuthRejection {
    /// Human text, e.g. `jwt expired`.
    pub message: String,
    /// Machine code, e.g. `invalid_token` or `credentials_required`.
    pub code: String,
}

impl AuthRejection {
    /// A rejection with this message and code.
    pub fn new(message: impl Into<String>, code: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: code.into(),
        }
    }
}

/// Decides who a token belongs to. Called once per namespace CONNECT, with the `tokenType` and
/// `token` query parameters (handshake URL first, then the CONNECT query, as socket.io 2.0.4
/// merges them). An empty parameter is passed as `Some("")`.
pub trait Authenticator: Send {
    /// The user this token identifies, or why it is refused.
    fn authenticate(
        &mut self,
        token_type: Option<&str>,
        token: Option<&str>,
    ) -> Result<User, AuthRejection>;
}

/// The default authenticator of the emulator. **It trusts tokens**: it is a demo and test
/// double, not a security boundary.
///
/// Rules, in order:
/// 1. no token, or an empty one → `No Authorization header was found` / `credentials_required`;
/// 2. a `tokenType` other than `jwt` or `oauth` → `unsupported tokenType` / `invalid_token`
///    (invented: the real answer is unknown);
/// 3. `expired` → `jwt expired` / `invalid_token`;
/// 4. a token starting with `bad` → `invalid signature` / `invalid_token`;
/// 5. a JWT-shaped token (three dot-separated base64url parts) → its claims are read **without
///    verifying the signature**. The id is `sub`, else `user_id`, else `anonymous_id` (then the
///    user's kind is `anonymous`); the username is `username`, else `email`, else the id; the
///    display name is `displayname`, else `name`, else the username. `exp` is **not** checked:
///    the sans-IO core has no wall clock (use an `expired` token to test expiry). A JWT-shaped
///    token whose payload is not a JSON object with one of those ids → `jwt malformed` /
///    `invalid_token`;
/// 6. any other token → a `"user"` whose id, username and display name are the token itself
///    (so `token=alice` logs in as `alice`).
#[derive(Debug, Clone, Copy, Default)]
pub struct DemoAuth;

impl Authenticator for DemoAuth {
    fn authenticate(
        &mut self,
        token_type: Option<&str>,
        token: Option<&str>,
    ) -> Result<User, AuthRejection> {
        let Some(token) = token.filter(|t| !t.is_empty()) else {
            return Err(AuthRejection::new(
                "No Authorization header was found",
                "credentials_required",
            ));
        };
        if let Some(kind) = token_type
            && !matches!(kind, "jwt" | "oauth")
        {
            return Err(AuthRejection::new("unsupported tokenType", "invalid_token"));
        }
        if token == "expired" {
            return Err(AuthRejection::new("jwt expired", "invalid_token"));
        }
        if token.starts_with("bad") {
            return Err(AuthRejection::new("invalid signature", "invalid_token"));
        }
        if let Some(payload) = jwt_payload(token) {
            return user_from_claims(&payload)
                .ok_or_else(|| AuthRejection::new("jwt malformed", "invalid_token"));
        }
        Ok(User::named(token, token))
    }
}

/// JWTs use unpadded base64url; accept padding anyway.
const BASE64URL_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::URL_SAFE,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// The decoded (unverified) payload bytes of a JWT-shaped token: `header.payload.signature`,
/// header and payload non-empty, every part in the base64url alphabet.
fn jwt_payload(token: &str) -> Option<Vec<u8>> {
    let mut parts = token.split('.');
    let (header, payload, signature) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() || header.is_empty() || payload.is_empty() {
        return None;
    }
    let base64url = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'='))
    };
    if !(base64url(header) && base64url(payload) && base64url(signature)) {
        return None;
    }
    // A JWT-shaped token whose payload is not base64 is still a (malformed) JWT.
    Some(BASE64URL_LENIENT.decode(payload).unwrap_or_default())
}

fn user_from_claims(payload: &[u8]) -> Option<User> {
    let claims: Map<String, Value> = serde_json::from_slice(payload).ok()?;
    let text = |key: &str| match claims.get(key) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let (id, kind) = if let Some(id) = text("sub").or_else(|| text("user_id")) {
        (id, "user")
    } else {
        (text("anonymous_id")?, "anonymous")
    };
    let username = text("username")
        .or_else(|| text("email"))
        .unwrap_or_else(|| id.clone());
    let displayname = text("displayname")
        .or_else(|| text("name"))
        .unwrap_or_else(|| username.clone());
    Some(User {
        id,
        username,
        displayname,
        kind: kind.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(claims: &str) -> String {
        let enc = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
        format!("{}.{}.sig", enc(r#"{"alg":"RS256"}"#), enc(claims))
    }

    #[test]
    fn demo_rules() {
        let mut auth = DemoAuth;
        let code = |r: Result<User, AuthRejection>| r.err().map(|e| e.code);
        assert_eq!(
            code(auth.authenticate(None, None)).as_deref(),
            Some("credentials_required")
        );
        assert_eq!(
            code(auth.authenticate(Some("jwt"), Some(""))).as_deref(),
            Some("credentials_required")
        );
        assert_eq!(
            auth.authenticate(None, Some("expired")).err(),
            Some(AuthRejection::new("jwt expired", "invalid_token"))
        );
        assert_eq!(
            auth.authenticate(None, Some("bad-x")).err(),
            Some(AuthRejection::new("invalid signature", "invalid_token"))
        );
        assert_eq!(
            code(auth.authenticate(Some("saml"), Some("u1"))).as_deref(),
            Some("invalid_token")
        );
        assert_eq!(
            auth.authenticate(Some("jwt"), Some("u1")),
            Ok(User::named("u1", "u1"))
        );
    }

    #[test]
    fn jwt_claims_give_the_identity() {
        let mut auth = DemoAuth;
        let user = auth
            .authenticate(
                Some("jwt"),
                Some(&jwt(r#"{"sub":"42","email":"a@b.c","name":"A B","exp":1}"#)),
            )
            .unwrap();
        assert_eq!(
            user,
            User {
                id: "42".into(),
                username: "a@b.c".into(),
                displayname: "A B".into(),
                kind: "user".into()
            }
        );
        let guest = auth
            .authenticate(None, Some(&jwt(r#"{"anonymous_id":"g1"}"#)))
            .unwrap();
        assert_eq!(
            (guest.id.as_str(), guest.kind.as_str()),
            ("g1", "anonymous")
        );
        let err = auth.authenticate(None, Some(&jwt(r#"{"iss":"x"}"#))).err();
        assert_eq!(err.map(|e| e.message).as_deref(), Some("jwt malformed"));
        let plain = auth.authenticate(None, Some("a.%%%.c")).unwrap();
        assert_eq!(plain.id, "a.%%%.c", "not base64url: not JWT-shaped");
    }
}
