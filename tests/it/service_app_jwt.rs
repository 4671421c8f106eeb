//! Service-app JWT minting: the token verifies with the public half of the key, carries exactly
//! the header and claims the Spaces guide prescribes, respects the 3600 s limit, and neither the
//! key nor the token leaks through `Debug` or error messages.
//!
//! The fixture key in `tests/fixtures/` is a throwaway RSA-2048 test key (generated with
//! `openssl genrsa -traditional 2048`), not a Spaces credential.

use std::collections::BTreeSet;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::{Map, Value, json};
use spaces_socket::spaces::auth::{
    AuthError, KeyFileProblem, MAX_SERVICE_TOKEN_TTL, SPACES_AUDIENCE, ServiceKey,
    ServiceKeyProvider, Token, TokenProvider, TokenType,
};

const KEY_JSON: &str = include_str!("../fixtures/test-service-key.json");
const PUBLIC_PEM: &str = include_str!("../fixtures/test-service-key.pub.pem");
const NOW: u64 = 1_700_000_000;
const KID: &str = "test-kid-00000000000000";
const ISS: &str = "test-issuer-0000000000";
const SUB: &str = "test-issuer-0000000000@test.servicesapps.spaces.example.invalid";

fn key() -> ServiceKey {
    match ServiceKey::from_json(KEY_JSON) {
        Ok(k) => k,
        Err(e) => panic!("fixture key must load: {e}"),
    }
}

fn private_pem() -> String {
    let v: Value = serde_json::from_str(KEY_JSON).expect("fixture is JSON");
    v["private_key"]
        .as_str()
        .expect("fixture has private_key")
        .to_owned()
}

/// The base64 lines of the fixture's PEM body: none of them may ever be printed.
fn pem_body_lines() -> Vec<String> {
    private_pem()
        .lines()
        .filter(|l| !l.starts_with("-----") && !l.is_empty())
        .map(str::to_owned)
        .collect()
}

/// A validation that checks signature, algorithm, audience and issuer, with `exp` required.
/// Expiry is checked separately, against our fixed `NOW`, by the caller.
fn validation(check_exp: bool) -> Validation {
    let mut v = Validation::new(Algorithm::RS256);
    v.set_audience(&[SPACES_AUDIENCE]);
    v.set_issuer(&[ISS]);
    v.set_required_spec_claims(&["exp", "aud", "iss", "sub"]);
    v.sub = Some(SUB.to_owned());
    v.validate_exp = check_exp;
    v.leeway = 0;
    v
}

fn public_key() -> DecodingKey {
    DecodingKey::from_rsa_pem(PUBLIC_PEM.as_bytes()).expect("fixture public key")
}

fn mint(key: &ServiceKey, now: u64, ttl: Duration) -> Token {
    match key.mint(now, ttl) {
        Ok(t) => t,
        Err(e) => panic!("mint failed: {e}"),
    }
}

#[test]
fn key_file_fields_are_read() {
    let k = key();
    assert_eq!(k.kid(), KID);
    assert_eq!(k.iss(), ISS);
    assert_eq!(k.sub(), SUB);
}

#[test]
fn minted_token_verifies_and_has_exactly_the_guide_header_and_claims() {
    let ttl = Duration::from_secs(600);
    let token = mint(&key(), NOW, ttl);
    assert_eq!(token.token_type(), TokenType::Jwt);
    assert_eq!(token.query_pairs()[0], ("tokenType", "jwt"));

    // Header: typ, alg, kid and nothing else, in the guide's order.
    let header = decode_header(token.expose()).expect("header decodes");
    assert_eq!(header.alg, Algorithm::RS256);
    assert_eq!(header.typ.as_deref(), Some("JWT"));
    assert_eq!(header.kid.as_deref(), Some(KID));
    let first = token.expose().split('.').next().expect("three segments");
    let raw_header = URL_SAFE_NO_PAD.decode(first).expect("base64url header");
    assert_eq!(
        String::from_utf8(raw_header).expect("utf8"),
        format!(r#"{{"typ":"JWT","alg":"RS256","kid":"{KID}"}}"#)
    );

    // Signature, audience, issuer, subject verified with the public key; exp checked exactly.
    let data = decode::<Map<String, Value>>(token.expose(), &public_key(), &validation(false))
        .expect("token verifies");
    let expected = json!({"iss": ISS, "sub": SUB, "aud": SPACES_AUDIENCE, "exp": NOW + 600});
    assert_eq!(Value::Object(data.claims.clone()), expected);
    assert_eq!(data.claims["exp"].as_u64(), Some(NOW + ttl.as_secs()));
    assert_eq!(
        data.claims
            .keys()
            .map(String::as_str)
            .collect::<BTreeSet<_>>(),
        BTreeSet::from(["aud", "exp", "iss", "sub"])
    );
}

#[test]
fn expiry_is_enforced_by_a_verifier() {
    // Minted at a 2023 `now`, the 10-minute token is long expired for a verifier using real time.
    let old = mint(&key(), NOW, Duration::from_secs(600));
    let err = decode::<Map<String, Value>>(old.expose(), &public_key(), &validation(true))
        .expect_err("expired");
    assert_eq!(*err.kind(), ErrorKind::ExpiredSignature);

    // Minted at the real wall-clock time (tests may read it; the library never does), it passes.
    let real_now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_secs();
    let fresh = mint(&key(), real_now, Duration::from_secs(120));
    let data = decode::<Map<String, Value>>(fresh.expose(), &public_key(), &validation(true))
        .expect("fresh token valid");
    assert_eq!(data.claims["exp"].as_u64(), Some(real_now + 120));
}

#[test]
fn a_tampered_token_fails_verification() {
    let token = mint(&key(), NOW, Duration::from_secs(600));
    let mut parts: Vec<String> = token.expose().split('.').map(str::to_owned).collect();
    assert_eq!(parts.len(), 3);
    let forged_claims =
        json!({"iss": ISS, "sub": SUB, "aud": SPACES_AUDIENCE, "exp": NOW + 3_000_000});
    parts[1] = URL_SAFE_NO_PAD.encode(forged_claims.to_string());
    let err = decode::<Map<String, Value>>(&parts.join("."), &public_key(), &validation(false))
        .expect_err("forged");
    assert_eq!(*err.kind(), ErrorKind::InvalidSignature);
}

#[test]
fn ttl_limits() {
    let k = key();
    let over = Duration::from_secs(3601);
    assert!(matches!(k.mint(NOW, over), Err(AuthError::TtlTooLong { ttl }) if ttl == over));
    assert!(matches!(
        k.mint(NOW, Duration::ZERO),
        Err(AuthError::TtlZero)
    ));
    assert!(matches!(
        k.mint(u64::MAX - 10, Duration::from_secs(60)),
        Err(AuthError::ClockOverflow)
    ));

    let at_max = mint(&k, NOW, MAX_SERVICE_TOKEN_TTL);
    let data = decode::<Map<String, Value>>(at_max.expose(), &public_key(), &validation(false))
        .expect("valid");
    assert_eq!(data.claims["exp"].as_u64(), Some(NOW + 3600));

    assert!(matches!(
        ServiceKeyProvider::new(k.clone(), over),
        Err(AuthError::TtlTooLong { .. })
    ));
    assert!(matches!(
        ServiceKeyProvider::new(k, Duration::ZERO),
        Err(AuthError::TtlZero)
    ));
}

#[test]
fn provider_mints_a_fresh_token_per_call_from_the_time_passed_in() {
    let mut provider = ServiceKeyProvider::new(key(), Duration::from_secs(300)).expect("valid ttl");
    let exp_of = |t: &Token| {
        decode::<Map<String, Value>>(t.expose(), &public_key(), &validation(false))
            .expect("valid")
            .claims["exp"]
            .as_u64()
    };
    let first = provider
        .token(UNIX_EPOCH + Duration::from_secs(NOW))
        .expect("token");
    let later = provider
        .token(UNIX_EPOCH + Duration::from_millis(NOW * 1000 + 45_900))
        .expect("token");
    assert_eq!(exp_of(&first), Some(NOW + 300));
    assert_eq!(exp_of(&later), Some(NOW + 45 + 300));
    assert_ne!(first, later);

    let before_epoch = UNIX_EPOCH - Duration::from_secs(1);
    assert!(matches!(
        provider.token(before_epoch),
        Err(AuthError::ClockBeforeEpoch)
    ));

    // Adapters hold it as a trait object.
    let mut dynamic: Box<dyn TokenProvider> = Box::new(provider);
    assert!(dynamic.token(UNIX_EPOCH + Duration::from_secs(NOW)).is_ok());
}

/// Wraps a PKCS#1 RSAPrivateKey DER into a PKCS#8 PrivateKeyInfo PEM (`BEGIN PRIVATE KEY`).
fn pkcs8_pem_from_pkcs1(pkcs1_pem: &str) -> String {
    fn der_len(n: usize) -> Vec<u8> {
        match n {
            0..=127 => vec![n as u8],
            128..=255 => vec![0x81, n as u8],
            _ => vec![0x82, (n >> 8) as u8, n as u8],
        }
    }
    let b64: String = pkcs1_pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    let pkcs1 = STANDARD.decode(b64).expect("PEM body is base64");
    let mut body = vec![0x02, 0x01, 0x00]; // version 0
    // AlgorithmIdentifier { rsaEncryption, NULL }
    body.extend([
        0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
    ]);
    body.push(0x04);
    body.extend(der_len(pkcs1.len()));
    body.extend(pkcs1);
    let mut der = vec![0x30];
    der.extend(der_len(body.len()));
    der.extend(body);
    let b64 = STANDARD.encode(der);
    let lines: Vec<&str> = b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).expect("ascii"))
        .collect();
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        lines.join("\n")
    )
}

#[test]
fn pkcs8_keys_are_accepted_and_sign_the_same() {
    let pem = pkcs8_pem_from_pkcs1(&private_pem());
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    let k = ServiceKey::new(ISS, SUB, KID, &pem).expect("PKCS#8 key loads");
    let token = mint(&k, NOW, Duration::from_secs(60));
    decode::<Map<String, Value>>(token.expose(), &public_key(), &validation(false))
        .expect("verifies with the same public key");
}

#[test]
fn key_file_with_raw_line_breaks_as_printed_in_the_guide_loads() {
    // The guide prints the PEM with real line breaks inside the JSON string.
    let guide_style = format!(
        "{{\n  \"iss\": \"{ISS}\", \n  \"sub\": \"{SUB}\", \n  \"kid\": \"{KID}\", \n  \"private_key\": \"{}\"\n}}\n",
        private_pem().trim_end()
    );
    assert!(
        serde_json::from_str::<Value>(&guide_style).is_err(),
        "the guide's form is not strict JSON"
    );
    let k = ServiceKey::from_json(&guide_style).expect("loads anyway");
    let token = mint(&k, NOW, Duration::from_secs(60));
    decode::<Map<String, Value>>(token.expose(), &public_key(), &validation(false))
        .expect("verifies");
}

fn with_field(field: &str, value: Value) -> String {
    let mut v: Value = serde_json::from_str(KEY_JSON).expect("fixture is JSON");
    match value {
        Value::Null => {
            v.as_object_mut().expect("object").remove(field);
        }
        other => v[field] = other,
    }
    v.to_string()
}

#[test]
fn tampered_key_files_give_typed_errors_without_key_material() {
    let pem = private_pem();
    let body = pem_body_lines();

    // Missing kid.
    let err = ServiceKey::from_json(&with_field("kid", Value::Null)).expect_err("no kid");
    assert!(
        matches!(
            err,
            AuthError::BadKeyFile(KeyFileProblem::MissingField("kid"))
        ),
        "{err:?}"
    );

    // Corrupted key bytes in the middle of the PEM body: still base64 and ASN.1, but not an RSA key.
    let line = &body[body.len() / 2];
    let flipped: String = line
        .chars()
        .map(|c| {
            if c == 'A' {
                'B'
            } else if c == 'B' {
                'A'
            } else {
                c
            }
        })
        .collect();
    assert_ne!(&flipped, line, "the chosen line must change");
    let corrupted = pem.replacen(line.as_str(), &flipped, 1);
    let err = ServiceKey::from_json(&with_field("private_key", json!(corrupted)))
        .expect_err("corrupted key");
    assert!(matches!(err, AuthError::BadPrivateKey), "{err:?}");

    // Truncated PEM.
    let truncated: String = pem.lines().take(5).collect::<Vec<_>>().join("\n");
    let err =
        ServiceKey::from_json(&with_field("private_key", json!(truncated))).expect_err("truncated");
    assert!(matches!(err, AuthError::BadPrivateKey), "{err:?}");

    // A public key where the private key belongs.
    let err = ServiceKey::from_json(&with_field("private_key", json!(PUBLIC_PEM)))
        .expect_err("public key");
    assert!(matches!(err, AuthError::BadPrivateKey), "{err:?}");

    // Not JSON at all: the position is reported, the text is not.
    let broken = KEY_JSON.replacen("\"kid\"", "kid", 1);
    let err = ServiceKey::from_json(&broken).expect_err("syntax");
    assert!(
        matches!(err, AuthError::BadKeyFile(KeyFileProblem::Syntax { .. })),
        "{err:?}"
    );

    // A private key of the wrong type for a string field: the message must not echo it.
    let err = ServiceKey::from_json(&with_field("private_key", json!([pem]))).expect_err("array");
    assert!(
        matches!(
            err,
            AuthError::BadKeyFile(KeyFileProblem::NotAString("private_key"))
        ),
        "{err:?}"
    );
    let printed = format!("{err} {err:?}");
    for l in &body {
        assert!(
            !printed.contains(l.as_str()),
            "error leaks key material: {printed}"
        );
    }
}

#[test]
fn debug_output_never_contains_the_key_or_the_token() {
    let k = key();
    let token = mint(&k, NOW, Duration::from_secs(600));
    let provider = ServiceKeyProvider::new(k.clone(), Duration::from_secs(600)).expect("valid ttl");
    let signature = token
        .expose()
        .rsplit('.')
        .next()
        .expect("signature")
        .to_owned();
    let claims_segment = token.expose().split('.').nth(1).expect("claims").to_owned();

    for printed in [
        format!("{k:?}"),
        format!("{k:#?}"),
        format!("{token:?}"),
        format!("{token:#?}"),
        format!("{provider:?}"),
        format!("{provider:#?}"),
    ] {
        assert!(!printed.contains(token.expose()), "token leaked: {printed}");
        assert!(!printed.contains(&signature), "signature leaked: {printed}");
        assert!(
            !printed.contains(&claims_segment),
            "claims leaked: {printed}"
        );
        assert!(!printed.contains("PRIVATE KEY"), "PEM leaked: {printed}");
        for line in pem_body_lines() {
            assert!(!printed.contains(&line[..32]), "PEM body leaked: {printed}");
        }
    }
    // What Debug does show: identifiers, to tell keys apart.
    let printed = format!("{k:?}");
    assert!(printed.contains(KID) && printed.contains(ISS), "{printed}");
    assert!(format!("{token:?}").contains("Jwt"));
}
