use super::*;

fn production() -> EgressPolicy {
    EgressPolicy::public_only()
}

fn refused_kind(policy: &EgressPolicy, url: &str) -> Option<AddrKind> {
    match policy.check_url(url) {
        Err(Refusal::Address { kind, .. }) => Some(kind),
        Err(other) => panic!("{url}: refused for its form ({other:?}), not its address"),
        Ok(_) => None,
    }
}

#[test]
fn every_spelling_of_loopback_is_loopback_after_normalisation() {
    for url in [
        "http://127.0.0.1/hook",
        "http://127.1/hook",
        "http://2130706433/hook",
        "http://0x7f.1/hook",
        "http://0177.0.0.1/hook",
        "http://127.255.255.254:8080/",
        "http://[::1]/hook",
        "http://[0:0:0:0:0:0:0:1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://[::ffff:7f00:1]/hook",
        "http://[::127.0.0.1]/hook",
        "http://[64:ff9b::127.0.0.1]/hook",
        "http://localhost/hook",
        "http://LOCALHOST./hook",
        "http://api.localhost/hook",
    ] {
        assert_eq!(
            refused_kind(&production(), url),
            Some(AddrKind::Loopback),
            "{url}"
        );
        assert_eq!(
            refused_kind(&EgressPolicy::with_loopback(), url),
            None,
            "{url}"
        );
    }
}

#[test]
fn private_and_special_ranges_are_refused() {
    let cases = [
        ("http://10.0.0.1/", AddrKind::Private),
        ("http://172.16.5.4/", AddrKind::Private),
        ("http://172.31.255.255/", AddrKind::Private),
        ("http://192.168.1.1/", AddrKind::Private),
        ("http://[fd00::1]/", AddrKind::Private),
        ("http://[fc00::1]/", AddrKind::Private),
        ("http://[fec0::1]/", AddrKind::Private),
        (
            "http://169.254.169.254/latest/meta-data/",
            AddrKind::LinkLocal,
        ),
        ("http://169.254.0.1/", AddrKind::LinkLocal),
        ("http://[fe80::1]/", AddrKind::LinkLocal),
        ("http://[fd00:ec2::254]/", AddrKind::Metadata),
        ("http://0.0.0.0/", AddrKind::Unspecified),
        ("http://0/", AddrKind::Unspecified),
        ("http://0.1.2.3/", AddrKind::Unspecified),
        ("http://[::]/", AddrKind::Unspecified),
        ("http://224.0.0.1/", AddrKind::Multicast),
        ("http://239.255.255.250/", AddrKind::Multicast),
        ("http://[ff02::1]/", AddrKind::Multicast),
        ("http://255.255.255.255/", AddrKind::Broadcast),
        ("http://100.64.0.1/", AddrKind::SharedNat),
        ("http://100.127.255.254/", AddrKind::SharedNat),
        ("http://240.0.0.1/", AddrKind::Reserved),
        ("http://192.0.0.8/", AddrKind::Reserved),
        ("http://198.18.0.1/", AddrKind::Reserved),
        ("http://198.19.255.1/", AddrKind::Reserved),
        ("http://192.0.2.1/", AddrKind::Documentation),
        ("http://198.51.100.7/", AddrKind::Documentation),
        ("http://203.0.113.9/", AddrKind::Documentation),
        ("http://[2001:db8::1]/", AddrKind::Documentation),
        ("http://[2001::1]/", AddrKind::Reserved),
        ("http://[100::1]/", AddrKind::Reserved),
        // IPv6 forms carrying a refused IPv4 address.
        ("http://[::ffff:10.0.0.1]/", AddrKind::Private),
        ("http://[::ffff:169.254.169.254]/", AddrKind::LinkLocal),
        ("http://[::ffff:0:10.0.0.1]/", AddrKind::Private),
        ("http://[::192.168.0.1]/", AddrKind::Private),
        ("http://[64:ff9b::10.0.0.1]/", AddrKind::Private),
        ("http://[64:ff9b::169.254.169.254]/", AddrKind::LinkLocal),
        ("http://[64:ff9b:1::1]/", AddrKind::Private),
        ("http://[2002:a00:1::]/", AddrKind::Private),
        ("http://[2002:7f00:1::]/", AddrKind::Loopback),
        ("http://[::ffff:0.0.0.0]/", AddrKind::Unspecified),
    ];
    for (url, kind) in cases {
        assert_eq!(refused_kind(&production(), url), Some(kind), "{url}");
        if kind != AddrKind::Loopback {
            assert_eq!(
                refused_kind(&EgressPolicy::with_loopback(), url),
                Some(kind),
                "{url} (loopback allowed)"
            );
        }
    }
}

#[test]
fn public_addresses_pass() {
    for url in [
        "https://93.184.216.34/hook",
        "http://8.8.8.8/",
        "http://172.32.0.1/",
        "http://100.128.0.1/",
        "http://[2606:4700::1111]/",
        "http://[::ffff:8.8.8.8]/",
        "http://[64:ff9b::8.8.8.8]/",
        "https://shop.example/paymob/callback",
    ] {
        assert_eq!(refused_kind(&production(), url), None, "{url}");
    }
}

#[test]
fn the_form_of_the_url_is_checked() {
    let p = production();
    assert_eq!(p.check_url("ftp://8.8.8.8/x").unwrap_err(), Refusal::Scheme);
    assert_eq!(
        p.check_url("file:///etc/passwd").unwrap_err(),
        Refusal::Scheme
    );
    assert_eq!(
        p.check_url("gopher://8.8.8.8/").unwrap_err(),
        Refusal::Scheme
    );
    assert_eq!(p.check_url("/relative").unwrap_err(), Refusal::Invalid);
    assert_eq!(p.check_url("not a url").unwrap_err(), Refusal::Invalid);
    assert_eq!(
        p.check_url("http://user:pass@8.8.8.8/").unwrap_err(),
        Refusal::UserInfo
    );
    assert_eq!(
        p.check_url("https://user@shop.example/").unwrap_err(),
        Refusal::UserInfo
    );
    assert_eq!(
        p.check_url("https://:secret@shop.example/").unwrap_err(),
        Refusal::UserInfo
    );
}

#[test]
fn reasons_read_after_the_field_name() {
    let p = production();
    let r = p.check_url("http://[::1]/").unwrap_err();
    assert_eq!(
        r.to_string(),
        "points to a loopback address, which the egress policy refuses"
    );
    let r = p.check_url("http://localhost/").unwrap_err();
    assert_eq!(
        r.to_string(),
        "resolves to a loopback address, which the egress policy refuses"
    );
}

#[test]
fn an_allow_list_opens_its_ranges_but_never_link_local() {
    let p = EgressPolicy::new(false, &["10.1.0.0/16", " fd12::/64 "]).unwrap();
    assert_eq!(refused_kind(&p, "http://10.1.2.3/"), None);
    assert_eq!(refused_kind(&p, "http://[::ffff:10.1.2.3]/"), None);
    assert_eq!(
        refused_kind(&p, "http://10.2.0.1/"),
        Some(AddrKind::Private)
    );
    assert_eq!(refused_kind(&p, "http://[fd12::5]/"), None);
    assert_eq!(
        refused_kind(&p, "http://[fd13::5]/"),
        Some(AddrKind::Private)
    );
    assert_eq!(
        refused_kind(&p, "http://127.0.0.1/"),
        Some(AddrKind::Loopback)
    );

    // Even a list that opens everything leaves link-local, metadata, unspecified, multicast
    // and broadcast shut.
    let all = EgressPolicy::new(false, &["0.0.0.0/0", "::/0"]).unwrap();
    assert_eq!(refused_kind(&all, "http://127.0.0.1/"), None);
    assert_eq!(refused_kind(&all, "http://10.0.0.1/"), None);
    assert_eq!(refused_kind(&all, "http://[fd00::1]/"), None);
    for url in [
        "http://169.254.169.254/",
        "http://[::ffff:169.254.169.254]/",
        "http://[fe80::1]/",
        "http://[fd00:ec2::254]/",
        "http://0.0.0.0/",
        "http://[::]/",
        "http://224.0.0.1/",
        "http://255.255.255.255/",
    ] {
        assert!(refused_kind(&all, url).is_some(), "{url}");
    }
    let single = EgressPolicy::new(false, &["192.168.7.7"]).unwrap();
    assert_eq!(refused_kind(&single, "http://192.168.7.7/"), None);
    assert!(refused_kind(&single, "http://192.168.7.8/").is_some());
}

#[test]
fn a_host_name_entry_opens_that_name_only() {
    let p = EgressPolicy::new(false, &["localhost", "*.internal"]).unwrap();
    assert_eq!(
        p.check_ip(Some("localhost"), "127.0.0.1".parse().unwrap()),
        Ok(())
    );
    assert_eq!(
        p.check_ip(Some("LocalHost."), "::1".parse().unwrap()),
        Ok(())
    );
    assert_eq!(
        p.check_ip(Some("hooks.internal"), "10.0.0.9".parse().unwrap()),
        Ok(())
    );
    assert_eq!(
        p.check_ip(Some("internal"), "10.0.0.9".parse().unwrap()),
        Err(AddrKind::Private)
    );
    assert_eq!(
        p.check_ip(Some("other.example"), "127.0.0.1".parse().unwrap()),
        Err(AddrKind::Loopback)
    );
    assert_eq!(
        p.check_ip(None, "127.0.0.1".parse().unwrap()),
        Err(AddrKind::Loopback)
    );
    assert_eq!(
        p.check_ip(Some("hooks.internal"), "169.254.169.254".parse().unwrap()),
        Err(AddrKind::LinkLocal)
    );
    assert!(p.check_url("http://localhost:8080/").is_ok());
    assert!(refused_kind(&p, "http://127.0.0.1/").is_some());
}

#[test]
fn bad_entries_are_refused_with_a_reason() {
    for (entry, part) in [
        ("10.1.0.0/33", "not a CIDR"),
        ("10.1.2.3/16", "did you mean 10.1.0.0/16"),
        ("fd12::1/64", "did you mean fd12::/64"),
        ("169.254.0.0/16", "link-local"),
        ("169.254.169.254", "link-local"),
        ("fe80::/10", "link-local"),
        ("fd00:ec2::254", "metadata"),
        ("224.0.0.0/4", "multicast"),
        ("", "empty"),
        ("127.1", "IP address"),
        ("http://10.0.0.1", "not a CIDR"),
        ("host name", "host name"),
        ("-bad.example", "host name"),
        ("*.", "host name"),
    ] {
        let err = EgressPolicy::new(false, &[entry]).unwrap_err();
        assert!(
            err.to_string().contains(part),
            "{entry:?}: {err} (expected {part:?})"
        );
        assert!(err.to_string().contains("egress allow-list entry"), "{err}");
    }
}

#[tokio::test]
async fn registration_resolves_names_and_accepts_unresolvable_ones() {
    let p = production();
    let err = p
        .check_registration("http://localhost:9/hook")
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Refusal::Address {
            kind: AddrKind::Loopback,
            resolved: true
        }
    ));
    assert!(p.check_registration("http://127.0.0.1/hook").await.is_err());
    // `.invalid` never resolves (RFC 6761): accepted, the delivery-time check still applies.
    assert!(p
        .check_registration("https://hooks.kassa-test.invalid/x")
        .await
        .is_ok());
    let dev = EgressPolicy::with_loopback();
    assert!(dev.check_registration("http://localhost:9/").await.is_ok());
    assert!(dev.check_registration("http://10.0.0.1/").await.is_err());
}

/// A one-shot HTTP server on loopback answering every request with `response`; counts hits.
async fn server(response: &'static str) -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let hits = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = hits.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut buf = [0u8; 4096];
            let _ = sock.read(&mut buf).await;
            let _ = sock.write_all(response.as_bytes()).await;
            let _ = sock.shutdown().await;
        }
    });
    (port, hits)
}

const OK: &str = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nOK";

#[tokio::test]
async fn the_client_reaches_allowed_targets_and_refuses_the_rest_neutrally() {
    let (port, hits) = server(OK).await;
    let dev =
        EgressClient::new(EgressPolicy::with_loopback(), Duration::from_secs(5), "t").unwrap();
    for url in [
        format!("http://127.0.0.1:{port}/"),
        format!("http://localhost:{port}/"),
    ] {
        let resp = dev.get(&url).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 200);
    }
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 2);

    let prod = EgressClient::new(production(), Duration::from_secs(5), "t").unwrap();
    for url in [
        format!("http://127.0.0.1:{port}/"),
        format!("http://2130706433:{port}/"),
        format!("http://[::ffff:127.0.0.1]:{port}/"),
        format!("http://localhost:{port}/"),
        format!("http://u:p@8.8.8.8:{port}/"),
        format!("ftp://8.8.8.8:{port}/"),
    ] {
        let err = prod.post(&url).body("x").send().await.unwrap_err();
        assert_eq!(err, SendError::Refused, "{url}");
        assert_eq!(err.to_string(), REFUSED);
    }
    assert_eq!(hits.load(std::sync::atomic::Ordering::SeqCst), 2);

    // The resolver is what refuses a name: check that the refusal comes through its chain.
    let allow_name = EgressClient::new(
        EgressPolicy::new(false, &["localhost"]).unwrap(),
        Duration::from_secs(5),
        "t",
    )
    .unwrap();
    let resp = allow_name
        .get(&format!("http://localhost:{port}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let err = allow_name
        .get(&format!("http://127.0.0.1:{port}/"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err, SendError::Refused);
}

#[tokio::test]
async fn the_resolver_refusal_is_found_in_the_error_chain() {
    let policy = Arc::new(production());
    let resolver = GuardedResolver { policy };
    let name = reqwest::dns::Name::from_str("localhost").unwrap();
    let err = reqwest::dns::Resolve::resolve(&resolver, name)
        .await
        .err()
        .expect("localhost is refused in production");
    assert!(is_refusal(&*err));
    // Through reqwest's own wrapping (a client that skips the URL pre-check).
    let http = reqwest::Client::builder()
        .no_proxy()
        .dns_resolver(Arc::new(GuardedResolver {
            policy: Arc::new(production()),
        }))
        .build()
        .unwrap();
    let err = http.get("http://localhost:9/").send().await.unwrap_err();
    assert!(is_refusal(&err), "{err:?}");
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let (target, target_hits) = server(OK).await;
    let redirect: &'static str = Box::leak(
        format!(
            "HTTP/1.1 302 Found\r\nlocation: http://127.0.0.1:{target}/\r\ncontent-length: 0\r\n\
             connection: close\r\n\r\n"
        )
        .into_boxed_str(),
    );
    let (first, _) = server(redirect).await;
    let dev =
        EgressClient::new(EgressPolicy::with_loopback(), Duration::from_secs(5), "t").unwrap();
    let resp = dev
        .get(&format!("http://127.0.0.1:{first}/"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 302);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(target_hits.load(std::sync::atomic::Ordering::SeqCst), 0);
}

#[tokio::test]
async fn a_timeout_stays_a_timeout() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((sock, _)) = listener.accept().await {
            held.push(sock);
        }
    });
    let dev = EgressClient::new(
        EgressPolicy::with_loopback(),
        Duration::from_millis(300),
        "t",
    )
    .unwrap();
    let err = dev
        .get(&format!("http://127.0.0.1:{port}/"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(err, SendError::Timeout);
}
