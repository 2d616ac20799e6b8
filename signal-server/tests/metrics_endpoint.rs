//! `GET /metrics`: scraped from a real server, parsed strictly as the OpenMetrics text format
//! (what `prometheus-client` writes and Prometheus scrapes), and the values follow what really
//! happened: peers joining and leaving, signals relayed, errors and strikes, relay bytes,
//! TURN credentials minted and refused.

mod common;

use std::collections::{BTreeMap, HashSet};

use common::{config, offer, start, Client, STEP};
use peerdrop_proto::signal::{ClientMsg, ErrorCode, ServerMsg};
use peerdrop_signal::RunningServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;

/// One scrape, parsed: `name{label="v",...}` (labels sorted) → value.
#[derive(Debug)]
struct Scrape {
    samples: BTreeMap<String, f64>,
    families: BTreeMap<String, String>,
}

impl Scrape {
    fn get(&self, key: &str) -> f64 {
        *self
            .samples
            .get(key)
            .unwrap_or_else(|| panic!("no sample {key}; have {:?}", self.samples.keys()))
    }

    fn get_or_zero(&self, key: &str) -> f64 {
        self.samples.get(key).copied().unwrap_or(0.0)
    }
}

fn valid_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// A sample's labels, name and value, sorted.
type Labels = Vec<(String, String)>;

/// Parses `{a="x",b="y"}` (after the metric name); returns the sorted labels and the rest.
fn parse_labels(text: &str) -> Result<(Labels, &str), String> {
    let Some(mut rest) = text.strip_prefix('{') else {
        return Ok((Vec::new(), text));
    };
    let mut labels = Vec::new();
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            break Ok((labels, after));
        }
        let eq = rest.find('=').ok_or("label without '='")?;
        let name = &rest[..eq];
        if !valid_label_name(name) {
            return Err(format!("bad label name {name:?}"));
        }
        rest = rest[eq + 1..]
            .strip_prefix('"')
            .ok_or("label value not quoted")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next().ok_or("unterminated label value")? {
                (i, '"') => break i,
                (_, '\\') => match chars.next().ok_or("dangling escape")?.1 {
                    '\\' => value.push('\\'),
                    '"' => value.push('"'),
                    'n' => value.push('\n'),
                    other => return Err(format!("bad escape \\{other}")),
                },
                (_, '\n') => return Err("newline in label value".into()),
                (_, c) => value.push(c),
            }
        };
        if labels.iter().any(|(n, _): &(String, String)| n == name) {
            return Err(format!("duplicate label {name}"));
        }
        labels.push((name.to_string(), value));
        rest = &rest[end + 1..];
        if let Some(after) = rest.strip_prefix(',') {
            rest = after;
        } else if !rest.starts_with('}') {
            return Err(format!("expected ',' or '}}' at {rest:?}"));
        }
    }
    .map(|(mut labels, rest): (Vec<(String, String)>, &str)| {
        labels.sort();
        (labels, rest)
    })
}

fn parse_value(text: &str) -> Result<f64, String> {
    match text {
        "+Inf" => Ok(f64::INFINITY),
        "-Inf" => Ok(f64::NEG_INFINITY),
        "NaN" => Ok(f64::NAN),
        _ => text.parse().map_err(|_| format!("bad value {text:?}")),
    }
}

/// The OpenMetrics text format's rules, checked strictly: metadata lines before the samples of
/// their family, families not interleaved or repeated, valid names and label syntax, sample
/// names allowed for the family's type, counters non-negative, and the closing `# EOF`.
fn parse_openmetrics(text: &str) -> Result<Scrape, String> {
    let body = text
        .strip_suffix("# EOF\n")
        .ok_or("exposition does not end with '# EOF\\n'")?;
    let mut families: BTreeMap<String, String> = BTreeMap::new();
    let mut closed: HashSet<String> = HashSet::new();
    let mut current: Option<String> = None;
    let mut seen_samples: HashSet<String> = HashSet::new();
    let mut samples = BTreeMap::new();
    for (n, line) in body.lines().enumerate() {
        let err = |why: String| format!("line {}: {why}: {line:?}", n + 1);
        if line.is_empty() {
            return Err(err("empty line".into()));
        }
        if let Some(meta) = line.strip_prefix("# ") {
            let mut parts = meta.splitn(3, ' ');
            let (kind, name) = (parts.next().unwrap(), parts.next().unwrap_or(""));
            let rest = parts.next();
            if !valid_metric_name(name) {
                return Err(err(format!("bad family name {name:?}")));
            }
            if current.as_deref() != Some(name) {
                if closed.contains(name) || families.contains_key(name) {
                    return Err(err("family appears twice".into()));
                }
                if let Some(prev) = current.replace(name.to_string()) {
                    closed.insert(prev);
                }
            }
            match kind {
                "TYPE" => {
                    let t = rest.ok_or_else(|| err("TYPE without a type".into()))?;
                    let known = [
                        "counter",
                        "gauge",
                        "histogram",
                        "gaugehistogram",
                        "summary",
                        "info",
                        "stateset",
                        "unknown",
                    ];
                    if !known.contains(&t) {
                        return Err(err(format!("unknown type {t}")));
                    }
                    if families.insert(name.to_string(), t.to_string()).is_some() {
                        return Err(err("second TYPE".into()));
                    }
                }
                "HELP" | "UNIT" => {}
                other => return Err(err(format!("unknown metadata {other}"))),
            }
            continue;
        }
        if line.starts_with('#') {
            return Err(err("comment that is not metadata".into()));
        }
        let name_end = line
            .find(['{', ' '])
            .ok_or_else(|| err("no value".into()))?;
        let name = &line[..name_end];
        if !valid_metric_name(name) {
            return Err(err(format!("bad metric name {name:?}")));
        }
        let family = current
            .as_deref()
            .ok_or_else(|| err("sample before any TYPE".into()))?;
        let ftype = families
            .get(family)
            .ok_or_else(|| err("sample before its TYPE".into()))?;
        let suffix = name
            .strip_prefix(family)
            .ok_or_else(|| err(format!("sample {name} outside family {family}")))?;
        let allowed: &[&str] = match ftype.as_str() {
            "counter" => &["_total", "_created"],
            "gauge" | "unknown" | "stateset" => &[""],
            "info" => &["_info"],
            _ => &["_bucket", "_count", "_sum", "_created", ""],
        };
        if !allowed.contains(&suffix) {
            return Err(err(format!("suffix {suffix:?} not allowed for a {ftype}")));
        }
        let (labels, rest) = parse_labels(&line[name_end..]).map_err(err)?;
        let mut fields = rest
            .strip_prefix(' ')
            .ok_or_else(|| err("no space before the value".into()))?
            .split(' ');
        let value = parse_value(fields.next().unwrap_or("")).map_err(err)?;
        if let Some(ts) = fields.next() {
            parse_value(ts).map_err(|e| err(format!("timestamp: {e}")))?;
        }
        if fields.next().is_some() {
            return Err(err("trailing fields".into()));
        }
        if ftype == "counter" && suffix == "_total" && (value.is_nan() || value < 0.0) {
            return Err(err("negative counter".into()));
        }
        let key = if labels.is_empty() {
            name.to_string()
        } else {
            let inner: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{v}\"")).collect();
            format!("{name}{{{}}}", inner.join(","))
        };
        if !seen_samples.insert(key.clone()) {
            return Err(err("duplicate sample".into()));
        }
        samples.insert(key, value);
    }
    Ok(Scrape { samples, families })
}

/// `GET /metrics`: the status line, the Content-Type and the parsed body.
async fn scrape(server: &RunningServer) -> (String, String, Scrape) {
    let mut tcp = TcpStream::connect(server.local_addr()).await.unwrap();
    tcp.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut response = Vec::new();
    timeout(STEP, tcp.read_to_end(&mut response))
        .await
        .expect("metrics in time")
        .unwrap();
    let response = String::from_utf8(response).expect("utf-8");
    let (head, body) = response.split_once("\r\n\r\n").expect("complete response");
    let status = head.lines().next().unwrap().to_string();
    let content_type = head
        .lines()
        .find_map(|l| l.strip_prefix("Content-Type: "))
        .unwrap_or("")
        .to_string();
    let parsed = parse_openmetrics(body).unwrap_or_else(|e| panic!("{e}\n{body}"));
    (status, content_type, parsed)
}

/// Scrapes until `check` holds (peers leaving are noticed by the server asynchronously).
async fn scrape_until(server: &RunningServer, check: impl Fn(&Scrape) -> bool) -> Scrape {
    let deadline = tokio::time::Instant::now() + STEP;
    loop {
        let (_, _, s) = scrape(server).await;
        if check(&s) {
            return s;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "metrics never reached the expected state: {:?}",
            s.samples
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn metrics_parse_as_openmetrics_with_build_info_and_no_peers() {
    let server = start(config()).await;
    let (status, content_type, s) = scrape(&server).await;
    assert_eq!(status, "HTTP/1.1 200 OK");
    assert!(
        content_type.starts_with("application/openmetrics-text; version=1.0.0"),
        "{content_type}"
    );
    let version = env!("CARGO_PKG_VERSION");
    let protocol = peerdrop_proto::PROTOCOL_VERSION;
    assert_eq!(
        s.get(&format!(
            "peerdrop_build_info{{protocol=\"{protocol}\",version=\"{version}\"}}"
        )),
        1.0
    );
    for family in [
        "peerdrop_peers",
        "peerdrop_connections",
        "peerdrop_nearby_groups",
        "peerdrop_signals_relayed",
        "peerdrop_relay_fallback_bytes",
        "peerdrop_errors",
        "peerdrop_strikes",
        "peerdrop_turn_credentials_issued",
    ] {
        assert!(s.families.contains_key(family), "no family {family}");
    }
    assert_eq!(s.get("peerdrop_peers{kind=\"cli\"}"), 0.0);
    assert_eq!(s.get("peerdrop_nearby_groups"), 0.0);
    assert_eq!(s.get("peerdrop_turn_credentials_issued_total"), 0.0);
}

#[tokio::test]
async fn peers_connections_groups_signals_errors_and_strikes_move_with_real_traffic() {
    let server = start(config()).await;
    let (mut alice, _) = Client::joined(&server, "alice").await;
    let (mut bob, bob_welcome) = Client::joined(&server, "bob").await;
    let s = scrape_until(&server, |s| s.get("peerdrop_peers{kind=\"cli\"}") == 2.0).await;
    assert_eq!(s.get("peerdrop_connections{kind=\"websocket\"}"), 2.0);
    // Both on loopback: the server's LAN, one nearby group.
    assert_eq!(s.get("peerdrop_nearby_groups"), 1.0);

    let _ = alice.recv().await; // bob joined: a fresh nearby list
    alice.signal(bob_welcome.id, offer("v=0")).await;
    match bob.recv_skipping_nearby().await {
        ServerMsg::Signal { .. } => {}
        other => panic!("expected the offer, got {other:?}"),
    }
    alice
        .send(&ClientMsg::Relay {
            to: bob_welcome.id,
            session: uuid::Uuid::new_v4(),
            data: "AAAAAAAA".into(),
        })
        .await;
    match bob.recv_skipping_nearby().await {
        ServerMsg::Relay { .. } => {}
        other => panic!("expected the relay frame, got {other:?}"),
    }
    alice.send_text("{not json").await;
    alice.expect_error(ErrorCode::BadMessage).await;

    let s = scrape(&server).await.2;
    assert_eq!(s.get("peerdrop_signals_relayed_total{kind=\"offer\"}"), 1.0);
    assert_eq!(s.get("peerdrop_relay_fallback_frames_total"), 1.0);
    assert_eq!(s.get("peerdrop_relay_fallback_bytes_total"), 8.0);
    assert_eq!(s.get("peerdrop_errors_total{code=\"bad_message\"}"), 1.0);
    assert_eq!(s.get("peerdrop_strikes_total{code=\"bad_message\"}"), 1.0);
    assert_eq!(s.get_or_zero("peerdrop_closed_for_strikes_total"), 0.0);

    bob.close().await;
    let s = scrape_until(&server, |s| s.get("peerdrop_peers{kind=\"cli\"}") == 1.0).await;
    assert_eq!(s.get("peerdrop_nearby_groups"), 1.0);
    alice.close().await;
    let s = scrape_until(&server, |s| s.get("peerdrop_peers{kind=\"cli\"}") == 0.0).await;
    assert_eq!(s.get("peerdrop_nearby_groups"), 0.0);
}

#[tokio::test]
async fn turn_credentials_issued_and_refused_are_counted() {
    let mut cfg = config();
    cfg.turn_secret = Some("metrics-secret".into());
    cfg.turn_urls = vec!["turn:127.0.0.1:3478?transport=udp".into()];
    cfg.limits.turn_credentials_per_ip = 2;
    let server = start(cfg).await;
    let mut clients = Vec::new();
    for name in ["one", "two", "three"] {
        clients.push(Client::joined(&server, name).await.0);
    }
    let s = scrape(&server).await.2;
    assert_eq!(s.get("peerdrop_turn_credentials_issued_total"), 2.0);
    assert_eq!(s.get("peerdrop_turn_credentials_refused_total"), 1.0);
    // The refused one was told why, in an `unavailable` notice.
    assert_eq!(s.get("peerdrop_errors_total{code=\"unavailable\"}"), 1.0);
}

#[test]
fn the_parser_rejects_what_prometheus_would() {
    let good = "# TYPE a counter\n# HELP a x\na_total 1\n# TYPE b gauge\nb{k=\"v\"} 2\n# EOF\n";
    assert!(parse_openmetrics(good).is_ok());
    for bad in [
        "# TYPE a counter\na_total 1\n",                 // no EOF
        "a_total 1\n# EOF\n",                            // sample before TYPE
        "# TYPE a counter\na 1\n# EOF\n",                // counter without _total
        "# TYPE a gauge\na{k=v} 1\n# EOF\n",             // unquoted label
        "# TYPE a gauge\na{k=\"v\",k=\"w\"} 1\n# EOF\n", // duplicate label
        "# TYPE a gauge\na one\n# EOF\n",                // not a number
        "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\n# TYPE a gauge\na 2\n# EOF\n", // reopened
        "# TYPE a counter\na_total -1\n# EOF\n",         // negative counter
        "# TYPE 1a gauge\n1a 1\n# EOF\n",                // bad name
    ] {
        assert!(parse_openmetrics(bad).is_err(), "accepted {bad:?}");
    }
}
