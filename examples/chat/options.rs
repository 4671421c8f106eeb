//! Command-line options of the chat example.

use std::path::PathBuf;
use std::time::Duration;

use spaces_socket::spaces::{
    DEFAULT_SERVICE_TOKEN_TTL, ServiceKey, ServiceKeyProvider, Token, TokenProvider,
};

/// Which runtime drives the session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Runtime {
    Blocking,
    Smol,
    AsyncStd,
}

impl Runtime {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Self::Blocking => "blocking",
            Self::Smol => "smol",
            Self::AsyncStd => "async-std",
        }
    }
}

#[derive(Debug)]
pub(crate) struct Options {
    pub(crate) url: Option<String>,
    pub(crate) token: Option<String>,
    pub(crate) oauth: bool,
    pub(crate) service_key: Option<PathBuf>,
    pub(crate) spaces: Vec<String>,
    pub(crate) password: Option<String>,
    pub(crate) runtime: Runtime,
    pub(crate) json: bool,
    pub(crate) timeout: Duration,
}

const USAGE: &str = "usage: chat [--url URL] [--token TOKEN | --service-key FILE] [--token-type jwt|oauth] \
[--space ID]... [--password PIN] [--runtime blocking|smol|async-std] [--json] [--timeout SECS]";

impl Options {
    pub(crate) fn parse(mut args: impl Iterator<Item = String>) -> Result<Self, String> {
        let mut o = Self {
            url: None,
            token: std::env::var("SPACES_TOKEN").ok().filter(|t| !t.is_empty()),
            oauth: false,
            service_key: None,
            spaces: Vec::new(),
            password: None,
            runtime: Runtime::Blocking,
            json: false,
            timeout: Duration::from_secs(30),
        };
        while let Some(arg) = args.next() {
            let mut value =
                |name: &str| args.next().ok_or(format!("{name} needs a value\n{USAGE}"));
            match arg.as_str() {
                "--url" => o.url = Some(value("--url")?),
                "--token" => o.token = Some(value("--token")?),
                "--token-type" => {
                    o.oauth = match value("--token-type")?.as_str() {
                        "jwt" => false,
                        "oauth" => true,
                        other => {
                            return Err(format!(
                                "unknown --token-type {other:?}: use jwt or oauth"
                            ));
                        }
                    }
                }
                "--service-key" => o.service_key = Some(PathBuf::from(value("--service-key")?)),
                "--space" => o.spaces.push(value("--space")?),
                "--password" => o.password = Some(value("--password")?),
                "--runtime" => {
                    o.runtime = match value("--runtime")?.as_str() {
                        "blocking" => Runtime::Blocking,
                        "smol" => Runtime::Smol,
                        "async-std" => Runtime::AsyncStd,
                        other => {
                            return Err(format!(
                                "unknown --runtime {other:?}: use blocking, smol or async-std"
                            ));
                        }
                    }
                }
                "--json" => o.json = true,
                "--timeout" => {
                    let v = value("--timeout")?;
                    let secs: u64 = v
                        .parse()
                        .map_err(|_| format!("--timeout takes whole seconds, not {v:?}"))?;
                    o.timeout = Duration::from_secs(secs);
                }
                "-h" | "--help" => return Err(USAGE.to_owned()),
                other => return Err(format!("unknown argument {other:?}\n{USAGE}")),
            }
        }
        Ok(o)
    }

    /// A fixed token, or a service key that mints a fresh JWT for every connection.
    pub(crate) fn token_provider(&self) -> Result<Box<dyn TokenProvider>, String> {
        if let Some(path) = &self.service_key {
            let json = std::fs::read_to_string(path)
                .map_err(|e| format!("cannot read --service-key {}: {e}", path.display()))?;
            let key =
                ServiceKey::from_json(&json).map_err(|e| format!("bad --service-key: {e}"))?;
            let provider = ServiceKeyProvider::new(key, DEFAULT_SERVICE_TOKEN_TTL)
                .map_err(|e| e.to_string())?;
            return Ok(Box::new(provider));
        }
        let token = self
            .token
            .clone()
            .ok_or("no credentials: pass --token, set SPACES_TOKEN, or pass --service-key")?;
        Ok(Box::new(if self.oauth {
            Token::oauth(token)
        } else {
            Token::jwt(token)
        }))
    }
}
