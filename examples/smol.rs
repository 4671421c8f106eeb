//! Send one message to a Space on the smol runtime and print events until it is confirmed.
//!
//! ```text
//! cargo run --example smol -- --url https://spacesapis-socket.avayacloud.com/chat \
//!     --token "$SPACES_JWT" --space <space id>
//! ```
//! Events are printed with `Debug`, which redacts tokens, session ids and passwords.

use spaces_socket::spaces::{PRODUCTION_URL, SendMessage, SpacesConfig, SpacesEvent, Token};
use spaces_socket_smol::{Options, connect};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse()?;
    smol::block_on(async {
        let config = SpacesConfig::new(&args.url)?;
        let client = connect(config, Token::jwt(args.token), Options::default())?;
        client.subscribe(&args.space, None)?;
        let id = client.send_message(SendMessage::chat(
            &args.space,
            "Hello from spaces-socket on smol",
        ))?;
        while let Some(event) = client.next_event().await {
            println!("{event:?}");
            match event {
                SpacesEvent::Confirmed { id: confirmed, .. } if confirmed == id => break,
                SpacesEvent::SendFailed { id: failed, .. } if failed == id => break,
                _ => {}
            }
        }
        client.close().await;
        Ok(())
    })
}

struct Args {
    url: String,
    token: String,
    space: String,
}

impl Args {
    fn parse() -> Result<Self, String> {
        let usage = "usage: smol [--url URL] --token JWT --space SPACE_ID";
        let (mut url, mut token, mut space) = (PRODUCTION_URL.to_owned(), None, None);
        let mut args = std::env::args().skip(1);
        while let Some(flag) = args.next() {
            let value = args
                .next()
                .ok_or_else(|| format!("{flag} needs a value; {usage}"))?;
            match flag.as_str() {
                "--url" => url = value,
                "--token" => token = Some(value),
                "--space" => space = Some(value),
                _ => return Err(format!("unknown argument {flag}; {usage}")),
            }
        }
        Ok(Self {
            url,
            token: token.ok_or(usage)?,
            space: space.ok_or(usage)?,
        })
    }
}
