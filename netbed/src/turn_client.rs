//! A minimal STUN/TURN client (RFC 5389/5766) over UDP: Allocate with long-term credentials
//! and CreatePermission, enough to test what coturn as configured accepts and refuses.
//! CreatePermission sends nothing to the peer address: coturn decides locally.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::time::Duration;

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha1::Sha1;

const MAGIC: u32 = 0x2112_A442;
const ALLOCATE: u16 = 0x0003;
const CREATE_PERMISSION: u16 = 0x0008;
const ATTR_USERNAME: u16 = 0x0006;
const ATTR_MESSAGE_INTEGRITY: u16 = 0x0008;
const ATTR_ERROR_CODE: u16 = 0x0009;
const ATTR_XOR_PEER_ADDRESS: u16 = 0x0012;
const ATTR_REALM: u16 = 0x0014;
const ATTR_NONCE: u16 = 0x0015;
const ATTR_REQUESTED_TRANSPORT: u16 = 0x0019;
const ATTR_FINGERPRINT: u16 = 0x8028;

/// What a request got back.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Reply {
    /// A success response.
    Success,
    /// An error response with this code (e.g. 401, 403, 438).
    Error(u16, String),
}

/// A parsed response.
struct Response {
    class_error: bool,
    attrs: Vec<(u16, Vec<u8>)>,
}

impl Response {
    fn attr(&self, t: u16) -> Option<&[u8]> {
        self.attrs
            .iter()
            .find(|(k, _)| *k == t)
            .map(|(_, v)| v.as_slice())
    }

    fn reply(&self) -> Reply {
        if !self.class_error {
            return Reply::Success;
        }
        match self.attr(ATTR_ERROR_CODE) {
            Some(v) if v.len() >= 4 => {
                let code = u16::from(v[2] & 0x7) * 100 + u16::from(v[3]);
                Reply::Error(code, String::from_utf8_lossy(&v[4..]).into_owned())
            }
            _ => Reply::Error(0, "no error code".into()),
        }
    }
}

/// One client socket talking to one TURN server, with long-term credentials.
pub struct TurnClient {
    socket: UdpSocket,
    server: SocketAddr,
    username: String,
    password: String,
    realm: Option<String>,
    nonce: Option<Vec<u8>>,
}

fn put_attr(msg: &mut Vec<u8>, t: u16, value: &[u8]) {
    msg.extend_from_slice(&t.to_be_bytes());
    msg.extend_from_slice(&(value.len() as u16).to_be_bytes());
    msg.extend_from_slice(value);
    while !msg.len().is_multiple_of(4) {
        msg.push(0);
    }
}

fn set_len(msg: &mut [u8], body_len: usize) {
    msg[2..4].copy_from_slice(&(body_len as u16).to_be_bytes());
}

/// XOR-PEER-ADDRESS value for `addr` in a message with `txid`.
fn xor_address(addr: SocketAddr, txid: &[u8; 12]) -> Vec<u8> {
    let mut v = vec![0u8];
    let port = addr.port() ^ (MAGIC >> 16) as u16;
    match addr.ip() {
        IpAddr::V4(ip) => {
            v.push(0x01);
            v.extend_from_slice(&port.to_be_bytes());
            let x = u32::from(ip) ^ MAGIC;
            v.extend_from_slice(&x.to_be_bytes());
        }
        IpAddr::V6(ip) => {
            v.push(0x02);
            v.extend_from_slice(&port.to_be_bytes());
            let mut key = MAGIC.to_be_bytes().to_vec();
            key.extend_from_slice(txid);
            for (b, k) in ip.octets().iter().zip(key) {
                v.push(b ^ k);
            }
        }
    }
    v
}

impl TurnClient {
    /// A client on `socket` (already bound in the right namespace) for `server`.
    pub fn new(socket: UdpSocket, server: SocketAddr, username: &str, password: &str) -> Self {
        socket
            .set_read_timeout(Some(Duration::from_millis(500)))
            .expect("set timeout");
        TurnClient {
            socket,
            server,
            username: username.to_string(),
            password: password.to_string(),
            realm: None,
            nonce: None,
        }
    }

    fn build(&self, method: u16, txid: &[u8; 12], attrs: &[(u16, Vec<u8>)], auth: bool) -> Vec<u8> {
        let mut msg = Vec::with_capacity(256);
        msg.extend_from_slice(&method.to_be_bytes());
        msg.extend_from_slice(&[0, 0]);
        msg.extend_from_slice(&MAGIC.to_be_bytes());
        msg.extend_from_slice(txid);
        for (t, v) in attrs {
            put_attr(&mut msg, *t, v);
        }
        if auth {
            if let (Some(realm), Some(nonce)) = (&self.realm, &self.nonce) {
                put_attr(&mut msg, ATTR_USERNAME, self.username.as_bytes());
                put_attr(&mut msg, ATTR_REALM, realm.as_bytes());
                put_attr(&mut msg, ATTR_NONCE, nonce);
                let key = Md5::digest(format!("{}:{realm}:{}", self.username, self.password));
                let body = msg.len() - 20 + 24;
                set_len(&mut msg, body);
                let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(&key).expect("hmac key");
                mac.update(&msg);
                let tag = mac.finalize().into_bytes();
                put_attr(&mut msg, ATTR_MESSAGE_INTEGRITY, &tag);
            }
        }
        let body = msg.len() - 20 + 8;
        set_len(&mut msg, body);
        let crc = crc32fast::hash(&msg) ^ 0x5354_554e;
        put_attr(&mut msg, ATTR_FINGERPRINT, &crc.to_be_bytes());
        msg
    }

    fn exchange(&self, msg: &[u8], txid: &[u8; 12]) -> Result<Response, String> {
        let mut buf = [0u8; 2048];
        for _attempt in 0..6 {
            self.socket
                .send_to(msg, self.server)
                .map_err(|e| format!("send: {e}"))?;
            loop {
                match self.socket.recv_from(&mut buf) {
                    Ok((n, _)) if n >= 20 && &buf[8..20] == txid => {
                        return parse(&buf[..n]);
                    }
                    Ok(_) => continue,
                    Err(_) => break,
                }
            }
        }
        Err("no answer from the TURN server".into())
    }

    fn request(&mut self, method: u16, attrs: Vec<(u16, Vec<u8>)>) -> Result<Reply, String> {
        let txid: [u8; 12] = rand::random();
        let msg = self.build(method, &txid, &attrs, true);
        let mut resp = self.exchange(&msg, &txid)?;
        // First contact (401) or stale nonce (438): learn realm/nonce and retry once.
        if let Reply::Error(401 | 438, _) = resp.reply() {
            let had_nonce = self.nonce.is_some();
            if let Some(realm) = resp.attr(ATTR_REALM) {
                self.realm = Some(String::from_utf8_lossy(realm).into_owned());
            }
            if let Some(nonce) = resp.attr(ATTR_NONCE) {
                self.nonce = Some(nonce.to_vec());
            }
            let stale = matches!(resp.reply(), Reply::Error(438, _));
            if !had_nonce || stale {
                let txid: [u8; 12] = rand::random();
                let msg = self.build(method, &txid, &attrs, true);
                resp = self.exchange(&msg, &txid)?;
            }
        }
        Ok(resp.reply())
    }

    /// Allocate a UDP relay (REQUESTED-TRANSPORT = UDP).
    pub fn allocate(&mut self) -> Result<Reply, String> {
        self.request(
            ALLOCATE,
            vec![(ATTR_REQUESTED_TRANSPORT, vec![17, 0, 0, 0])],
        )
    }

    /// Ask for permission to relay to `peer` (the relay would then accept traffic from and
    /// send traffic to it). Nothing is sent to `peer` by this request.
    pub fn create_permission(&mut self, peer: SocketAddr) -> Result<Reply, String> {
        // The XOR key for IPv6 includes the transaction id, so build with a fixed one here.
        let txid: [u8; 12] = rand::random();
        let attrs = vec![(ATTR_XOR_PEER_ADDRESS, xor_address(peer, &txid))];
        let msg = self.build(CREATE_PERMISSION, &txid, &attrs, true);
        let resp = self.exchange(&msg, &txid)?;
        Ok(resp.reply())
    }
}

fn parse(buf: &[u8]) -> Result<Response, String> {
    let msg_type = u16::from_be_bytes([buf[0], buf[1]]);
    let len = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
    if buf.len() < 20 + len {
        return Err("truncated response".into());
    }
    let class_error = msg_type & 0x0110 == 0x0110;
    let mut attrs = Vec::new();
    let mut pos = 20;
    while pos + 4 <= 20 + len {
        let t = u16::from_be_bytes([buf[pos], buf[pos + 1]]);
        let l = usize::from(u16::from_be_bytes([buf[pos + 2], buf[pos + 3]]));
        let start = pos + 4;
        if start + l > buf.len() {
            break;
        }
        attrs.push((t, buf[start..start + l].to_vec()));
        pos = start + l.div_ceil(4) * 4;
    }
    Ok(Response { class_error, attrs })
}

/// TURN REST credentials, exactly as `peerdrop-signal` mints them.
pub fn rest_credentials(secret: &str, user: &str, expires_at: u64) -> (String, String) {
    use base64::engine::general_purpose::STANDARD as BASE64;
    use base64::Engine as _;
    let username = format!("{expires_at}:{user}");
    let mut mac = <Hmac<Sha1> as Mac>::new_from_slice(secret.as_bytes()).expect("hmac key");
    mac.update(username.as_bytes());
    let password = BASE64.encode(mac.finalize().into_bytes());
    (username, password)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5769 2.1 is for short-term credentials; here we only check the framing invariants.
    #[test]
    fn fingerprint_and_lengths_are_consistent() {
        let socket = UdpSocket::bind("127.0.0.1:0").unwrap();
        let c = TurnClient::new(socket, "127.0.0.1:3478".parse().unwrap(), "u", "p");
        let msg = c.build(
            ALLOCATE,
            &[7; 12],
            &[(ATTR_REQUESTED_TRANSPORT, vec![17, 0, 0, 0])],
            false,
        );
        assert_eq!(msg.len() % 4, 0);
        assert_eq!(
            usize::from(u16::from_be_bytes([msg[2], msg[3]])),
            msg.len() - 20
        );
        let resp = parse(&msg).unwrap();
        assert!(resp.attr(ATTR_FINGERPRINT).is_some());
    }

    #[test]
    fn xor_peer_address_round_trips_ipv4() {
        let v = xor_address("127.0.0.1:9".parse().unwrap(), &[0; 12]);
        assert_eq!(v[1], 1);
        let port = u16::from_be_bytes([v[2], v[3]]) ^ 0x2112;
        assert_eq!(port, 9);
        let ip = u32::from_be_bytes([v[4], v[5], v[6], v[7]]) ^ MAGIC;
        assert_eq!(std::net::Ipv4Addr::from(ip), std::net::Ipv4Addr::LOCALHOST);
    }
}
