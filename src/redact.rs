//! Redaction of secrets (tokens, keys, session ids) in `Debug` output and logs.

use core::fmt;

use serde_json::Value;

pub(crate) const REDACTED: &str = "<redacted>";

/// A value that must never appear in logs or `Debug` output: a token, a key, a session id.
///
/// `Debug` and `Display` print `<redacted>`; call [`Secret::expose`] where the real value is
/// needed (on the wire, never in a log line).
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a secret value.
    pub fn new(value: T) -> Self {
        Self(value)
    }

    /// The secret itself. Only for the wire or a verifier, never for a log line.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the secret.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Whether a JSON key names a credential or a session id, whose scalar values `Debug` hides.
///
/// Matches, ignoring ASCII case, keys containing `token`, `password`, `passwd`, `secret`,
/// `session`, `private`, `credential`, `authorization`, `cookie` or `apikey`/`api_key`, and the
/// keys `sid`, `dtsid` and `pin`. Only scalars are hidden: an object under such a key (e.g.
/// `mediaSession`) is still shown, with its own keys checked the same way.
pub fn is_sensitive_key(key: &str) -> bool {
    const CONTAINS: [&str; 11] = [
        "token",
        "password",
        "passwd",
        "secret",
        "session",
        "private",
        "credential",
        "authorization",
        "cookie",
        "apikey",
        "api_key",
    ];
    const EXACT: [&str; 3] = ["sid", "dtsid", "pin"];
    let key = key.to_ascii_lowercase();
    EXACT.contains(&key.as_str()) || CONTAINS.iter().any(|needle| key.contains(needle))
}

/// A copy of `value` with the scalars under sensitive keys replaced by `"<redacted>"`.
pub(crate) fn redact_value(value: &Value, sensitive: bool) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), redact_value(v, is_sensitive_key(k))))
                .collect(),
        ),
        Value::Array(items) => {
            Value::Array(items.iter().map(|v| redact_value(v, sensitive)).collect())
        }
        Value::Null => Value::Null,
        _ if sensitive => Value::String(REDACTED.to_owned()),
        scalar => scalar.clone(),
    }
}

/// `text` (a JSON document, or a wire frame such as `42/chat,["EV",{…}]` whose JSON starts at
/// the first `[`, `{` or `"`) with sensitive values hidden; unparsable JSON is shown only by
/// length, since it may hold anything.
pub(crate) fn redact_frame(text: &str) -> String {
    let Some(start) = text.find(['[', '{', '"']) else {
        return text.to_owned();
    };
    let (head, json) = text.split_at(start);
    match serde_json::from_str::<Value>(json) {
        Ok(v) => {
            let shown = serde_json::to_string(&redact_value(&v, false)).unwrap_or_default();
            format!("{head}{shown}")
        }
        Err(_) => format!("{head}<{} bytes of invalid JSON>", json.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_hide_sensitive_values_but_keep_the_rest() {
        let f = r#"42/chat,["SUBSCRIBE_CHANNEL",{"channel":{"_id":"s1","password":"1234"},"sessionId":"abc"}]"#;
        let shown = redact_frame(f);
        assert!(
            shown.starts_with("42/chat,[\"SUBSCRIBE_CHANNEL\""),
            "{shown}"
        );
        assert!(
            shown.contains("\"_id\":\"s1\"") && !shown.contains("1234") && !shown.contains("abc")
        );
        assert_eq!(redact_frame("2"), "2");
        assert_eq!(redact_frame("42[\"x\""), "42<4 bytes of invalid JSON>");
    }
}
