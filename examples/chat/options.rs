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
    /// From `--token`.
    pub(crate) token: Option<String>,
    /// From the environment (`SPACES_TOKEN`); used only with `--url`, never in the demo.
    pub(crate) env_token: Option<String>,
    pub(crate) oauth: bool,
    pub(crate) service_key: Option<PathBuf>,
    pub(crate) spaces: Vec<String>,
    pub(crate) password: Option<String>,
    pub(crate) runtime: Runtime,
    pub(crate) json: bool,
    pub(crate) timeout: Duration,
    /// From `--record FILE`.
    pub(crate) record: Option<PathBuf>,
}

/// What `--help` prints (on stdout).
pub(crate) const HELP: &str = "\
usage: chat [--url URL] [--token TOKEN | --service-key FILE] [--token-type jwt|oauth]
            [--space ID]... [--password PIN] [--runtime blocking|smol|async-std] [--json]
            [--timeout SECS] [--record FILE]

Joins Avaya Spaces, sends each line of standard input as a chat message to the first
--space, prints what arrives, and exits once every line was confirmed by its echo.
With no --url it runs an embedded emulator with a demo participant instead, and also
waits (at most --timeout) for its answer to every line (the demo uses its own demo token:
--token, --service-key and SPACES_TOKEN are not used).

options:
  --url URL            Spaces socket URL, e.g. wss://spacesapis-socket.avayacloud.com/chat
  --token TOKEN        token to authenticate with (default: env SPACES_TOKEN)
  --token-type T       jwt (default) or oauth
  --service-key FILE   service-app key file: mints a fresh JWT for every connection
  --space ID           space to join (repeatable; stdin goes to the first)
  --password PIN       PIN of the space(s)
  --runtime R          blocking (default), smol or async-std
  --json               one JSON object per event on stdout
  --timeout SECS       how long to wait for confirmations (and demo answers) after stdin
                       ends (default 30)
  --record FILE        write every frame both ways, command and event to FILE as JSON
                       lines, with tokens, PINs and session ids redacted; replay it with
                       spaces_socket_emulator::replay (docs/recording.md)
  -h, --help           print this help and exit

Text from the network is shown with control characters escaped (e.g. \\x1b).
Lines of stdin that are not UTF-8 are sent with U+FFFD in place of the bad bytes, with a
warning. A closed stdout (e.g. `| head -1`) ends the program quietly.

exit status:
  0  every line was sent and confirmed (or stdout was closed, or --help)
  1  failure: connection, authentication, subscription, a refused or undelivered line
  2  usage error: unknown option, bad or missing value
";

/// A command-line mistake: exit status 2.
#[derive(Debug)]
pub(crate) struct UsageError(pub(crate) String);

/// What the command line asks for.
#[derive(Debug)]
pub(crate) enum Command {
    Run(Options),
    Help,
}

/// `s` if short, else its first 40 characters and `…`: errors never echo a long input whole.
pub(crate) fn preview(s: &str) -> String {
    const MAX: usize = 40;
    match s.char_indices().nth(MAX) {
        None => s.to_owned(),
        Some((cut, _)) => format!("{}…", &s[..cut]),
    }
}

impl Options {
    pub(crate) fn parse(args: impl Iterator<Item = String>) -> Result<Command, UsageError> {
        Self::parse_inner(args).map_err(UsageError)
    }

    fn parse_inner(mut args: impl Iterator<Item = String>) -> Result<Command, String> {
        let mut o = Self {
            url: None,
            token: None,
            env_token: std::env::var("SPACES_TOKEN").ok().filter(|t| !t.is_empty()),
            oauth: false,
            service_key: None,
            spaces: Vec::new(),
            password: None,
            runtime: Runtime::Blocking,
            json: false,
            timeout: Duration::from_secs(30),
            record: None,
        };
        while let Some(arg) = args.next() {
            let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
            match arg.as_str() {
                "--url" => o.url = Some(value("--url")?),
                "--token" => o.token = Some(value("--token")?),
                "--token-type" => {
                    o.oauth = match value("--token-type")?.as_str() {
                        "jwt" => false,
                        "oauth" => true,
                        other => {
                            return Err(format!(
                                "unknown --token-type {:?}: use jwt or oauth",
                                preview(other)
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
                                "unknown --runtime {:?}: use blocking, smol or async-std",
                                preview(other)
                            ));
                        }
                    }
                }
                "--json" => o.json = true,
                "--record" => o.record = Some(PathBuf::from(value("--record")?)),
                "--timeout" => {
                    let v = value("--timeout")?;
                    let secs: u64 = v.parse().map_err(|_| {
                        format!("--timeout takes whole seconds, not {:?}", preview(&v))
                    })?;
                    o.timeout = Duration::from_secs(secs);
                }
                "-h" | "--help" => return Ok(Command::Help),
                other => return Err(format!("unknown argument {:?}", preview(other))),
            }
        }
        Ok(Command::Run(o))
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
            .or_else(|| self.env_token.clone())
            .ok_or("no credentials: pass --token, set SPACES_TOKEN, or pass --service-key")?;
        Ok(Box::new(if self.oauth {
            Token::oauth(token)
        } else {
            Token::jwt(token)
        }))
    }
}
