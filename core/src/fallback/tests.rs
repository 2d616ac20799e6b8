use super::*;

fn pair(
    prologue_a: &[u8],
    prologue_b: &[u8],
) -> Result<(snow::TransportState, snow::TransportState, String, String), snow::Error> {
    let params: snow::params::NoiseParams = NOISE_PARAMS.parse().unwrap();
    let mut a = snow::Builder::new(params.clone())
        .prologue(prologue_a)
        .build_initiator()?;
    let mut b = snow::Builder::new(params)
        .prologue(prologue_b)
        .build_responder()?;
    let (mut m1, mut m2, mut scratch) = (vec![0u8; 1024], vec![0u8; 1024], vec![0u8; 1024]);
    let n1 = a.write_message(&[], &mut m1)?;
    b.read_message(&m1[..n1], &mut scratch)?;
    let n2 = b.write_message(&[], &mut m2)?;
    a.read_message(&m2[..n2], &mut scratch)?;
    let (ca, cb) = (
        check_code(a.get_handshake_hash()),
        check_code(b.get_handshake_hash()),
    );
    Ok((a.into_transport_mode()?, b.into_transport_mode()?, ca, cb))
}

#[test]
fn both_sides_derive_the_same_check_code_and_keys() {
    let (s, o, r) = (
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
        uuid::Uuid::new_v4(),
    );
    let (mut a, mut b, ca, cb) = pair(&prologue(s, o, r), &prologue(s, o, r)).unwrap();
    assert_eq!(ca, cb);
    assert_eq!(ca.len(), 9);
    let mut ct = vec![0u8; 100];
    let mut pt = vec![0u8; 100];
    let n = a.write_message(b"secret bytes", &mut ct).unwrap();
    assert!(
        !ct[..n].windows(6).any(|w| w == b"secret"),
        "ciphertext hides plaintext"
    );
    let m = b.read_message(&ct[..n], &mut pt).unwrap();
    assert_eq!(&pt[..m], b"secret bytes");
}

#[test]
fn a_different_session_binding_fails_the_handshake() {
    let (o, r) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let result = pair(
        &prologue(uuid::Uuid::new_v4(), o, r),
        &prologue(uuid::Uuid::new_v4(), o, r),
    );
    assert!(result.is_err(), "prologue mismatch must fail");
}

#[test]
fn a_man_in_the_middle_gets_different_check_codes() {
    // The server runs one handshake with each side: each completes, but the codes differ.
    let p = prologue(uuid::Uuid::nil(), uuid::Uuid::nil(), uuid::Uuid::nil());
    let (_, _, code_alice, _) = pair(&p, &p).unwrap();
    let (_, _, _, code_bob) = pair(&p, &p).unwrap();
    assert_ne!(code_alice, code_bob);
}

#[test]
fn a_man_in_the_middle_gets_different_verification_phrases() {
    // The server relays the real fingerprints and the SAS nonces unchanged but terminates one
    // Noise handshake per side: the phrase each side computes binds its own leg's hash.
    let p = prologue(uuid::Uuid::nil(), uuid::Uuid::nil(), uuid::Uuid::nil());
    let legs = [handshake_hashes(&p), handshake_hashes(&p)];
    let (alice_fp, bob_fp) = ("aa:01".to_string(), "bb:02".to_string());
    let (n1, n2) = (
        crate::identity::nonce::new_nonce(),
        crate::identity::nonce::new_nonce(),
    );
    let phrase = |local: &str, remote: &str, hash: &[u8]| {
        crate::identity::sas::bound_transfer_phrase(
            local,
            remote,
            &n1,
            &n2,
            Some(&binding_of(hash)),
        )
    };
    // Alice (initiator of leg 0) and Bob (responder of leg 1).
    let alice = phrase(&alice_fp, &bob_fp, &legs[0].0);
    let bob = phrase(&bob_fp, &alice_fp, &legs[1].1);
    assert_ne!(alice, bob, "a MITM must show two different phrases");
    // Without one, both ends of a handshake agree.
    assert_eq!(alice, phrase(&bob_fp, &alice_fp, &legs[0].1));
    assert_eq!(binding_of(&legs[0].0).len(), 64);
}

/// Runs one handshake and returns the initiator's and the responder's handshake hashes.
fn handshake_hashes(p: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let params: snow::params::NoiseParams = NOISE_PARAMS.parse().unwrap();
    let mut a = snow::Builder::new(params.clone())
        .prologue(p)
        .build_initiator()
        .unwrap();
    let mut b = snow::Builder::new(params)
        .prologue(p)
        .build_responder()
        .unwrap();
    let (mut m, mut scratch) = (vec![0u8; 1024], vec![0u8; 1024]);
    let n = a.write_message(&[], &mut m).unwrap();
    b.read_message(&m[..n], &mut scratch).unwrap();
    let n = b.write_message(&[], &mut m).unwrap();
    a.read_message(&m[..n], &mut scratch).unwrap();
    (
        a.get_handshake_hash().to_vec(),
        b.get_handshake_hash().to_vec(),
    )
}

#[test]
fn tampered_frames_fail_authentication() {
    let p = prologue(uuid::Uuid::nil(), uuid::Uuid::nil(), uuid::Uuid::nil());
    let (mut a, mut b, _, _) = pair(&p, &p).unwrap();
    let mut ct = vec![0u8; 100];
    let mut pt = vec![0u8; 100];
    let n = a.write_message(b"frame", &mut ct).unwrap();
    ct[3] ^= 1;
    assert!(b.read_message(&ct[..n], &mut pt).is_err());
}

#[test]
fn frames_round_trip_through_base64_and_fit_the_server_limit() {
    let body = vec![7u8; FRAGMENT_BYTES + 2 + 16];
    let text = encode(KIND_TRANSPORT, &body);
    // The JSON envelope adds about 120 bytes; the server accepts 64 KiB frames.
    assert!(text.len() + 200 < peerdrop_proto::signal::MAX_SIGNAL_MESSAGE_BYTES);
    assert_eq!(decode(&text), Some((KIND_TRANSPORT, body)));
    assert!(is_handshake_start(&encode(KIND_HANDSHAKE_1, &[1, 2, 3])));
    assert!(!is_handshake_start("not base64!"));
    assert_eq!(decode(""), None);
}

#[test]
fn policy_defaults_to_auto_after_ten_seconds() {
    let p = FallbackPolicy::default();
    assert!(p.enabled);
    assert_eq!(p.after, Duration::from_secs(10));
    assert_eq!(FallbackPolicy::from_vars(&crate::vars::none), p);
}

#[test]
fn policy_knobs_come_from_the_variables_given() {
    let vars = |pairs| FallbackPolicy::from_vars(&crate::vars::from_pairs(pairs));
    assert!(!vars(&[("PEERDROP_FALLBACK", "off")]).enabled);
    assert_eq!(
        vars(&[("PEERDROP_FALLBACK", "force")]).after,
        Duration::ZERO
    );
    let patient = vars(&[("PEERDROP_FALLBACK_AFTER_MS", " 2500 ")]);
    assert_eq!(patient.after, Duration::from_millis(2500));
    assert!(patient.enabled);
    // Nonsense reads as unset, not as zero.
    assert_eq!(
        vars(&[("PEERDROP_FALLBACK_AFTER_MS", "soon")]).after,
        Duration::from_secs(10)
    );
}

#[test]
fn finds_the_sha256_fingerprint_in_an_sdp() {
    let sdp = "v=0\r\na=group:BUNDLE 0\r\na=fingerprint:sha-256 AB:CD:EF\r\na=setup:actpass\r\n";
    assert_eq!(sdp_fingerprint(sdp).as_deref(), Some("ab:cd:ef"));
    assert_eq!(sdp_fingerprint("v=0\r\n"), None);
}
