//! Proving a device's certificate over a channel no DTLS handshake set up (the encrypted
//! fallback relay).
//!
//! On a WebRTC connection DTLS proves that the peer holds the private key of the certificate
//! whose fingerprint it announced. The fallback relay runs Noise NN instead, which proves
//! nothing about certificates, so without more a hostile server could force the relay (drop
//! every candidate) and present any fingerprint there — a *downgrade* around pinning. So each
//! side signs the Noise handshake hash with its device key and sends its certificate: the
//! other side checks the signature against the certificate's public key and takes the
//! certificate's fingerprint as proved. A server in the middle runs a separate handshake with
//! each side (different hashes) and does not hold either device's key, so it can only present
//! its own certificate — which is then `changed` or `new`, exactly as over DTLS.
//!
//! Wire form: `u16 big-endian length of the certificate DER || DER || ECDSA P-256 signature`,
//! over `"peerdrop/fallback/identity/1" || role || handshake hash`, where the role byte (`I`
//! initiator, `R` responder) stops a proof from being reflected back to its sender.

use thiserror::Error;
use webrtc::peer_connection::crypto::{
    default_provider, PublicKey, PublicKeyEncoding, SignatureScheme,
};

use super::{fingerprint_of_der, Identity};

/// Domain separation for the signed message.
const CONTEXT: &[u8] = b"peerdrop/fallback/identity/1";

/// Largest proof accepted (a PeerDrop certificate is ≈ 400 bytes).
pub const MAX_PROOF_BYTES: usize = 4096;

/// Which end of the handshake signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// The side that started the handshake (the sender).
    Initiator,
    /// The side that answered it (the receiver).
    Responder,
}

impl Role {
    fn byte(self) -> u8 {
        match self {
            Role::Initiator => b'I',
            Role::Responder => b'R',
        }
    }
}

/// Why a proof was not accepted.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum ProofError {
    /// The bytes are not a proof.
    #[error("the peer's identity proof is malformed")]
    Malformed,
    /// The certificate could not be read or uses another key type.
    #[error("the peer's certificate is unusable: {0}")]
    BadCertificate(String),
    /// The signature does not verify: the peer does not hold that certificate's key.
    #[error("the peer's identity proof does not verify: it does not hold the key of the certificate it shows")]
    BadSignature,
    /// This device could not sign.
    #[error("cannot sign the identity proof: {0}")]
    Signing(String),
}

fn signed_message(role: Role, handshake_hash: &[u8]) -> Vec<u8> {
    let mut message = Vec::with_capacity(CONTEXT.len() + 1 + handshake_hash.len());
    message.extend_from_slice(CONTEXT);
    message.push(role.byte());
    message.extend_from_slice(handshake_hash);
    message
}

/// This device's proof, as `role`, for the handshake with hash `handshake_hash`.
pub fn prove(
    identity: &Identity,
    role: Role,
    handshake_hash: &[u8],
) -> Result<Vec<u8>, ProofError> {
    let certificate = identity.certificate();
    let der = certificate
        .dtls_certificate
        .certificate
        .first()
        .ok_or_else(|| ProofError::Signing("certificate without DER".into()))?;
    let signature = certificate
        .dtls_certificate
        .private_key
        .signing_key
        .sign(
            SignatureScheme::EcdsaP256Sha256,
            &signed_message(role, handshake_hash),
        )
        .map_err(|e| ProofError::Signing(e.to_string()))?;
    let der = der.as_ref();
    let len = u16::try_from(der.len())
        .map_err(|_| ProofError::Signing("certificate too large".into()))?;
    let mut proof = Vec::with_capacity(2 + der.len() + signature.len());
    proof.extend_from_slice(&len.to_be_bytes());
    proof.extend_from_slice(der);
    proof.extend_from_slice(&signature);
    Ok(proof)
}

/// Checks the proof the peer sent as `role` for the handshake with hash `handshake_hash`;
/// returns the fingerprint of the certificate it proved.
pub fn verify(proof: &[u8], role: Role, handshake_hash: &[u8]) -> Result<String, ProofError> {
    if proof.len() > MAX_PROOF_BYTES || proof.len() < 2 {
        return Err(ProofError::Malformed);
    }
    let len = u16::from_be_bytes([proof[0], proof[1]]) as usize;
    let rest = &proof[2..];
    if rest.len() <= len {
        return Err(ProofError::Malformed);
    }
    let (der, signature) = rest.split_at(len);
    let (_, certificate) = x509_parser::parse_x509_certificate(der)
        .map_err(|e| ProofError::BadCertificate(e.to_string()))?;
    let point = &certificate.public_key().subject_public_key.data;
    let provider = default_provider().map_err(|e| ProofError::BadCertificate(e.to_string()))?;
    provider
        .crypto()
        .verify_signature(
            SignatureScheme::EcdsaP256Sha256,
            PublicKey {
                encoding: PublicKeyEncoding::EcUncompressedPoint,
                bytes: point,
            },
            &signed_message(role, handshake_hash),
            signature,
        )
        .map_err(|_| ProofError::BadSignature)?;
    fingerprint_of_der(der).map_err(|e| ProofError::BadCertificate(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_proof_proves_the_certificate_fingerprint() {
        let me = Identity::ephemeral().unwrap();
        let proof = prove(&me, Role::Responder, b"hash-1").unwrap();
        assert_eq!(
            verify(&proof, Role::Responder, b"hash-1").unwrap(),
            me.fingerprint()
        );
    }

    #[test]
    fn a_proof_for_another_handshake_or_role_does_not_verify() {
        let me = Identity::ephemeral().unwrap();
        let proof = prove(&me, Role::Responder, b"hash-1").unwrap();
        assert_eq!(
            verify(&proof, Role::Responder, b"hash-2"),
            Err(ProofError::BadSignature),
            "a server in the middle has another handshake hash"
        );
        assert_eq!(
            verify(&proof, Role::Initiator, b"hash-1"),
            Err(ProofError::BadSignature),
            "a proof reflected back to its sender"
        );
    }

    #[test]
    fn someone_elses_certificate_with_my_signature_does_not_verify() {
        let (me, victim) = (
            Identity::ephemeral().unwrap(),
            Identity::ephemeral().unwrap(),
        );
        let mine = prove(&me, Role::Initiator, b"h").unwrap();
        let theirs = prove(&victim, Role::Initiator, b"h").unwrap();
        // The victim's certificate followed by my signature.
        let cert_len = u16::from_be_bytes([theirs[0], theirs[1]]) as usize;
        let my_cert_len = u16::from_be_bytes([mine[0], mine[1]]) as usize;
        let mut forged = theirs[..2 + cert_len].to_vec();
        forged.extend_from_slice(&mine[2 + my_cert_len..]);
        assert_eq!(
            verify(&forged, Role::Initiator, b"h"),
            Err(ProofError::BadSignature)
        );
    }

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        assert_eq!(
            verify(&[], Role::Initiator, b"h"),
            Err(ProofError::Malformed)
        );
        assert_eq!(
            verify(&[0xff, 0xff, 1], Role::Initiator, b"h"),
            Err(ProofError::Malformed)
        );
        assert!(matches!(
            verify(&[0, 2, 1, 2, 3], Role::Initiator, b"h"),
            Err(ProofError::BadCertificate(_))
        ));
    }
}
