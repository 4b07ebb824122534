//! Verification against published vectors: the Standard Webhooks reference example, GitHub's
//! documented example, Stripe's scheme, and Wycheproof's HMAC-SHA256, HMAC-SHA512 and Ed25519
//! files (`tests/vectors/`, from C2SP/wycheproof, Apache-2.0): every valid tag verifies, every
//! invalid or modified one does not.

use base64::Engine as _;
use serde_json::Value;
use switchyard_webhooks::*;

const SW_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const SW_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
const SW_TS: i64 = 1614265330;
const SW_BODY: &[u8] = br#"{"test": 2432232314}"#;
const SW_SIGNATURE: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

fn standard(secrets: &[&str], public_keys: &[&str]) -> Scheme {
    Scheme::StandardWebhooks {
        secrets: secrets.iter().map(|s| decode_whsec(s).expect("secret")).collect(),
        public_keys: public_keys.iter().map(|k| decode_whpk(k).expect("key")).collect(),
    }
}

#[test]
fn the_standard_webhooks_reference_example_signs_and_verifies() {
    let key = decode_whsec(SW_SECRET).unwrap();
    assert_eq!(sign_v1(&key, SW_ID, SW_TS, SW_BODY), SW_SIGNATURE);
    let scheme = standard(&[SW_SECRET], &[]);
    let ts = SW_TS.to_string();
    let headers = [("webhook-id", SW_ID), ("webhook-timestamp", ts.as_str()), ("webhook-signature", SW_SIGNATURE)];
    let verified = scheme.verify(&headers[..], SW_BODY, SW_TS, DEFAULT_TOLERANCE_SECS).expect("verifies");
    assert_eq!(verified, Verified { delivery_id: Some(SW_ID.to_owned()), timestamp: Some(SW_TS) });
    // Header names are case-insensitive; the svix- spellings are accepted.
    let svix = [("Svix-Id", SW_ID), ("SVIX-TIMESTAMP", ts.as_str()), ("svix-signature", SW_SIGNATURE)];
    assert!(scheme.verify(&svix[..], SW_BODY, SW_TS + 299, DEFAULT_TOLERANCE_SECS).is_ok());

    // A modified body, id or timestamp does not verify; nor does a stale or future timestamp.
    assert_eq!(scheme.verify(&headers[..], br#"{"test": 2432232315}"#, SW_TS, 300), Err(VerifyError::NoMatch));
    let other_id = [("webhook-id", "msg_other"), headers[1], headers[2]];
    assert_eq!(scheme.verify(&other_id[..], SW_BODY, SW_TS, 300), Err(VerifyError::NoMatch));
    assert!(matches!(
        scheme.verify(&headers[..], SW_BODY, SW_TS + 301, 300),
        Err(VerifyError::Stale { skew_secs: 301, .. })
    ));
    assert!(matches!(scheme.verify(&headers[..], SW_BODY, SW_TS - 301, 300), Err(VerifyError::Stale { .. })));
    assert_eq!(
        scheme.verify(&headers[..2], SW_BODY, SW_TS, 300),
        Err(VerifyError::MissingHeader("webhook-signature".to_owned()))
    );

    // Rotation: several signatures in the header, several secrets configured; any pair matches.
    let new_secret = format!("whsec_{}", base64::engine::general_purpose::STANDARD.encode([7u8; 32]));
    let rotated = format!("v1,bm90IGEgc2lnbmF0dXJl {SW_SIGNATURE} v2,abc");
    let headers = [("webhook-id", SW_ID), ("webhook-timestamp", ts.as_str()), ("webhook-signature", rotated.as_str())];
    assert!(standard(&[new_secret.as_str(), SW_SECRET], &[]).verify(&headers[..], SW_BODY, SW_TS, 300).is_ok());
    assert_eq!(
        standard(&[new_secret.as_str()], &[]).verify(&headers[..], SW_BODY, SW_TS, 300),
        Err(VerifyError::NoMatch)
    );
}

#[test]
fn v1a_signatures_verify_against_the_trust_list() {
    let key = decode_whsk(&format!("whsk_{}", base64::engine::general_purpose::STANDARD.encode([42u8; 32]))).unwrap();
    let other = decode_whsk(&format!("whsk_{}", base64::engine::general_purpose::STANDARD.encode([43u8; 32]))).unwrap();
    let signature = sign_v1a(&key, "msg_1", 1_700_000_000, b"{}");
    assert!(signature.starts_with("v1a,"));
    let headers =
        [("webhook-id", "msg_1"), ("webhook-timestamp", "1700000000"), ("webhook-signature", signature.as_str())];
    let trusted = standard(&[], &[&encode_whpk(&other), &encode_whpk(&key)]);
    assert!(trusted.verify(&headers[..], b"{}", 1_700_000_000, 300).is_ok());
    assert_eq!(trusted.verify(&headers[..], b"{ }", 1_700_000_000, 300), Err(VerifyError::NoMatch));
    let untrusted = standard(&[SW_SECRET], &[&encode_whpk(&other)]);
    assert_eq!(untrusted.verify(&headers[..], b"{}", 1_700_000_000, 300), Err(VerifyError::NoMatch));
    assert!(decode_whpk("whpk_AAAA").is_err() && decode_whsec("whsec_!!").is_err());
}

#[test]
fn githubs_documented_example_verifies() {
    // docs.github.com, "Validating webhook deliveries": the secret, the payload and the header.
    let scheme = Scheme::GitHub { secrets: vec![b"It's a Secret to Everybody".to_vec()] };
    let good = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
    let headers = [("X-Hub-Signature-256", good), ("X-GitHub-Delivery", "72d3162e-cc78-11e3-81ab-4c9367dc0958")];
    let verified = scheme.verify(&headers[..], b"Hello, World!", 0, 300).expect("verifies");
    assert_eq!(verified.delivery_id.as_deref(), Some("72d3162e-cc78-11e3-81ab-4c9367dc0958"));
    assert_eq!(scheme.verify(&headers[..], b"Hello, World?", 0, 300), Err(VerifyError::NoMatch));
    let bad = [("X-Hub-Signature-256", "sha1=757107ea")];
    assert!(matches!(scheme.verify(&bad[..], b"Hello, World!", 0, 300), Err(VerifyError::Malformed { .. })));
}

#[test]
fn stripes_scheme_verifies_with_its_timestamp() {
    let secret = b"whsec_test_secret".to_vec();
    let scheme = Scheme::Stripe { secrets: vec![secret.clone()] };
    let body = br#"{"id":"evt_1","type":"payment_intent.succeeded"}"#;
    let t = 1_492_774_577_i64;
    let tag =
        hex::encode(hmac_tag(Algorithm::Sha256, &secret, format!("{t}.{}", String::from_utf8_lossy(body)).as_bytes()));
    let header =
        format!("t={t},v1={},v0=6ffbb59b2300aae63f272406069a9788598b792a944a07aba816edb039989a39", "0".repeat(64));
    let header = format!("{header},v1={tag}");
    let headers = [("Stripe-Signature", header.as_str())];
    assert_eq!(scheme.verify(&headers[..], body, t + 10, 300).unwrap().timestamp, Some(t));
    assert_eq!(scheme.verify(&headers[..], b"{}", t, 300), Err(VerifyError::NoMatch));
    assert!(matches!(scheme.verify(&headers[..], body, t + 1000, 300), Err(VerifyError::Stale { .. })));
    let no_t = format!("v1={tag}");
    assert!(matches!(
        scheme.verify(&[("stripe-signature", no_t.as_str())][..], body, t, 300),
        Err(VerifyError::Malformed { .. })
    ));
}

#[test]
fn generic_hmac_takes_its_header_hash_encoding_and_prefix() {
    let body = b"payload";
    for (algorithm, encoding, prefix) in
        [(Algorithm::Sha256, Encoding::Hex, Some("sha256=")), (Algorithm::Sha512, Encoding::Base64, None)]
    {
        let tag = hmac_tag(algorithm, b"k", body);
        let encoded = match encoding {
            Encoding::Hex => hex::encode(&tag),
            Encoding::Base64 => base64::engine::general_purpose::STANDARD.encode(&tag),
        };
        let value = format!("{}{encoded}", prefix.unwrap_or(""));
        let scheme = Scheme::Hmac(GenericHmac {
            secrets: vec![b"k".to_vec()],
            algorithm,
            header: "X-Signature".to_owned(),
            encoding,
            prefix: prefix.map(str::to_owned),
            id_header: Some("X-Delivery".to_owned()),
        });
        let headers = [("x-signature", value.as_str()), ("x-delivery", "d-1")];
        assert_eq!(scheme.verify(&headers[..], body, 0, 300).unwrap().delivery_id.as_deref(), Some("d-1"));
        assert_eq!(scheme.verify(&headers[..], b"payloaD", 0, 300), Err(VerifyError::NoMatch));
        // A truncated tag never verifies.
        let short = &value[..value.len() - 8];
        assert!(scheme.verify(&[("x-signature", short)][..], body, 0, 300).is_err());
    }
}

fn vectors(file: &str) -> Value {
    let path = format!("{}/tests/vectors/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(&path).expect("vector file")).expect("JSON")
}

fn unhex(v: &Value) -> Vec<u8> {
    hex::decode(v.as_str().expect("hex string")).expect("hex")
}

#[test]
fn wycheproof_hmac_vectors() {
    for (file, algorithm, full_bits) in
        [("hmac_sha256_test.json", Algorithm::Sha256, 256), ("hmac_sha512_test.json", Algorithm::Sha512, 512)]
    {
        let mut checked = 0;
        for group in vectors(file)["testGroups"].as_array().expect("groups") {
            let full = group["tagSize"].as_u64() == Some(full_bits);
            for case in group["tests"].as_array().expect("tests") {
                let (key, msg, tag) = (unhex(&case["key"]), unhex(&case["msg"]), unhex(&case["tag"]));
                let verifies = hmac_verify(algorithm, &key, &msg, &tag);
                let valid = case["result"] == "valid";
                // Only full-length tags are accepted: a truncated one never verifies.
                assert_eq!(verifies, valid && full, "{file} tcId {}: {}", case["tcId"], case["comment"]);
                if full && valid {
                    assert_eq!(hmac_tag(algorithm, &key, &msg), tag, "{file} tcId {}", case["tcId"]);
                }
                checked += 1;
            }
        }
        assert!(checked > 100, "{file}: only {checked} cases");
    }
}

#[test]
fn wycheproof_ed25519_vectors() {
    let mut checked = 0;
    for group in vectors("ed25519_test.json")["testGroups"].as_array().expect("groups") {
        let pk: [u8; 32] = unhex(&group["publicKey"]["pk"]).try_into().expect("32 bytes");
        let Ok(key) = ed25519_dalek::VerifyingKey::from_bytes(&pk) else {
            // A key that is not a curve point verifies nothing; every case of its group is invalid.
            assert!(group["tests"].as_array().unwrap().iter().all(|c| c["result"] != "valid"));
            continue;
        };
        for case in group["tests"].as_array().expect("tests") {
            let verifies = ed25519_verify(&key, &unhex(&case["msg"]), &unhex(&case["sig"]));
            assert_eq!(verifies, case["result"] == "valid", "tcId {}: {}", case["tcId"], case["comment"]);
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} cases");
}
