//! Loading and refusing configuration files.

use std::path::Path;

use super::*;

const EXAMPLE: &str = include_str!("../../conf/stgw.toml");

fn load(text: &str) -> Result<Config, ConfigError> {
    Config::from_str(text, Path::new("/etc/stgw/stgw.toml"))
}

fn refused(text: &str) -> String {
    match load(text) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(e) => e.to_string(),
    }
}

const MINIMAL: &str = r#"
[[load_balancer]]
name = "t"
vip = "127.0.0.1"
  [[load_balancer.listener]]
  protocol = "HTTP"
  port = 8080
    [[load_balancer.listener.domain]]
    name = "www.example.com"
      [[load_balancer.listener.domain.rule]]
      url = "/"
      targets = [{ address = "127.0.0.1:9001" }]
"#;

#[test]
fn the_documented_example_loads() {
    let c = load(EXAMPLE).unwrap();
    let lb = &c.load_balancers[0];
    assert_eq!(lb.id, "lb-local001");
    // Two listeners plus the one auto_rewrite creates.
    assert_eq!(lb.listeners.len(), 3);
    let auto = &lb.listeners[2];
    assert_eq!(auto.id, "lbl-auto0001");
    assert_eq!(auto.addr.port(), 8081);
    assert_eq!(lb.custom.client_max_body_size, 60 * 1024 * 1024);
    let http = &lb.listeners[0];
    let forsale = &http.domains[0].rules[0];
    assert!(matches!(&forsale.action, RuleAction::Redirect(r) if r.code == 301 && r.port == 8443));
    assert_eq!(c.global.upstream_keepalive, 64);
}

#[test]
fn absent_ids_are_derived_and_stable() {
    let a = load(MINIMAL).unwrap();
    let b = load(MINIMAL).unwrap();
    let id = |c: &Config| {
        (
            c.load_balancers[0].id.clone(),
            c.load_balancers[0].listeners[0].id.clone(),
        )
    };
    assert_eq!(id(&a), id(&b));
    assert!(a.load_balancers[0].id.starts_with("lb-") && a.load_balancers[0].id.len() == 11);
    assert!(a.load_balancers[0].listeners[0].id.starts_with("lbl-"));
    assert!(
        a.load_balancers[0].listeners[0].domains[0].rules[0]
            .id
            .starts_with("loc-")
    );
    // The model the API edits carries them too.
    assert_eq!(
        a.file.load_balancers[0].id.as_deref(),
        Some(a.load_balancers[0].id.as_str())
    );
}

#[test]
fn defaults_follow_the_product() {
    let c = load(MINIMAL).unwrap();
    let l = &c.load_balancers[0].listeners[0];
    assert!(l.default_server);
    assert_eq!(l.default_domain, Some(0));
    let r = &l.domains[0].rules[0];
    assert_eq!(r.scheduler, Scheduler::Wrr);
    assert_eq!(r.targets[0].weight, 10);
    assert_eq!(r.gzip_level, Some(1));
    assert!(r.client_ip);
    let hc = &r.health_check;
    assert!(hc.enabled);
    assert_eq!((hc.interval.as_secs(), hc.timeout.as_secs()), (5, 2));
    assert_eq!((hc.healthy_threshold, hc.unhealthy_threshold), (3, 3));
    assert_eq!(hc.status_classes, 0b1111);
    assert_eq!(hc.host.as_deref(), Some("www.example.com"));
}

#[test]
fn an_out_of_range_port_names_file_line_field_and_range() {
    let text = MINIMAL.replace("port = 8080", "port = 70000");
    let msg = refused(&text);
    assert!(msg.contains("/etc/stgw/stgw.toml:7:"), "{msg}");
    assert!(msg.contains("load_balancer[0].listener[0].port"), "{msg}");
    assert!(msg.contains("allowed 1-65535"), "{msg}");
}

#[test]
fn reserved_ports_are_refused() {
    let msg = refused(&MINIMAL.replace("port = 8080", "port = 3306"));
    assert!(msg.contains("reserved"), "{msg}");
}

#[test]
fn weights_and_health_ranges_are_checked() {
    for (from, to, want) in [
        (
            "targets = [{ address = \"127.0.0.1:9001\" }]",
            "targets = [{ address = \"127.0.0.1:9001\", weight = 101 }]",
            "allowed 0-100",
        ),
        (
            "url = \"/\"",
            "url = \"/\"\n      health_check = { interval = 4 }",
            "allowed 5-300",
        ),
        (
            "url = \"/\"",
            "url = \"/\"\n      health_check = { timeout = 61, interval = 100 }",
            "allowed 2-60",
        ),
        (
            "url = \"/\"",
            "url = \"/\"\n      health_check = { healthy_threshold = 11 }",
            "allowed 2-10",
        ),
        (
            "url = \"/\"",
            "url = \"/\"\n      health_check = { method = \"POST\" }",
            "GET or HEAD",
        ),
        (
            "url = \"/\"",
            "url = \"/\"\n      health_check = { http_codes = [\"http_6xx\"] }",
            "http_6xx",
        ),
        (
            "url = \"/\"",
            "url = \"/\"\n      session_expire_time = 20",
            "allowed 30-3600",
        ),
        (
            "url = \"/\"",
            "url = \"/\"\n      session_expire_time = 60\n      scheduler = \"IP_HASH\"",
            "only with scheduler",
        ),
        (
            "url = \"/\"",
            "url = \"/\"\n      gzip_level = 10",
            "allowed 1-9",
        ),
    ] {
        let text = MINIMAL.replace(from, to);
        let msg = refused(&text);
        assert!(msg.contains(want), "{to}: {msg}");
    }
}

#[test]
fn bad_domains_and_urls_say_why() {
    let msg = refused(&MINIMAL.replace("www.example.com", "a*.example.com"));
    assert!(msg.contains("'*' is allowed only once"), "{msg}");
    let msg = refused(&MINIMAL.replace("url = \"/\"", "url = \"~ (?<=a)b\""));
    assert!(msg.contains("invalid regex"), "{msg}");
    let msg = refused(&MINIMAL.replace("url = \"/\"", "url = \"nope\""));
    assert!(msg.contains("must start with '/'"), "{msg}");
}

#[test]
fn quotas_are_enforced_and_can_be_raised() {
    let targets: Vec<String> = (1..=101)
        .map(|i| format!("{{ address = \"127.0.0.1:{}\" }}", 10000 + i))
        .collect();
    let text = MINIMAL.replace(
        "targets = [{ address = \"127.0.0.1:9001\" }]",
        &format!("targets = [{}]", targets.join(", ")),
    );
    assert!(refused(&text).contains("quota of 100 per rule"));
    let raised = format!("[global]\nmax_targets_per_rule = 200\n{text}");
    assert!(load(&raised).is_ok());
}

#[test]
fn duplicates_are_refused() {
    let dup_port = format!(
        "{MINIMAL}\n  [[load_balancer.listener]]\n  protocol = \"HTTPS\"\n  port = 8080\n  certificate = {{ cert = \"a.pem\", key = \"a.key\" }}\n"
    );
    assert!(refused(&dup_port).contains("already used"));
    let dup_rule = MINIMAL.replace(
        "      url = \"/\"\n      targets = [{ address = \"127.0.0.1:9001\" }]",
        "      url = \"/\"\n      [[load_balancer.listener.domain.rule]]\n      url = \"/\"",
    );
    assert!(refused(&dup_rule).contains("duplicate URL rule"));
    let caret = MINIMAL.replace(
        "      url = \"/\"\n      targets = [{ address = \"127.0.0.1:9001\" }]",
        "      url = \"/a\"\n      [[load_balancer.listener.domain.rule]]\n      url = \"^~ /a\"",
    );
    assert!(refused(&caret).contains("duplicate URL rule"));
}

#[test]
fn unknown_fields_and_bad_syntax_give_a_line() {
    let msg = refused(&MINIMAL.replace("port = 8080", "port = 8080\n  prot = 1"));
    assert!(msg.contains(":8:"), "{msg}");
    assert!(msg.contains("prot"), "{msg}");
    let msg = refused("[[load_balancer]\n");
    assert!(msg.contains(":1:"), "{msg}");
}

#[test]
fn personalized_config_errors_point_at_the_file_line() {
    let text = MINIMAL.replace(
        "vip = \"127.0.0.1\"",
        "vip = \"127.0.0.1\"\ncustom_config = \"\"\"\nkeepalive_timeout 75s;\nclient_max_body_size 20000M;\n\"\"\"",
    );
    let msg = refused(&text);
    assert!(msg.contains("stgw.toml:7:"), "{msg}");
    assert!(msg.contains("client_max_body_size"), "{msg}");
}

#[test]
fn https_listeners_need_a_certificate_and_mutual_needs_a_ca() {
    let https = MINIMAL.replace("protocol = \"HTTP\"", "protocol = \"HTTPS\"");
    assert!(refused(&https).contains("needs a certificate"));
    let mutual = https.replace(
        "port = 8080",
        "port = 8080\n  ssl_mode = \"MUTUAL\"\n  certificate = { cert = \"a.pem\", key = \"a.key\" }",
    );
    assert!(refused(&mutual).contains("needs client_ca"));
}

#[test]
fn redirect_chains_are_refused() {
    let text = EXAMPLE.to_owned()
        + r#"
[[load_balancer.rewrite]]
source = { listener = "lbl-https001", domain = "www.new.com", url = "/index" }
target = { listener = "lbl-https001", domain = "*.example.com", url = "/" }
"#;
    assert!(refused(&text).contains("cannot chain"));
}

#[test]
fn cidrs_parse_and_match() {
    let net = IpNet::parse("10.0.0.0/8").unwrap();
    assert!(net.contains("10.1.2.3".parse().unwrap()));
    assert!(net.contains("::ffff:10.1.2.3".parse().unwrap()));
    assert!(!net.contains("11.0.0.1".parse().unwrap()));
    let v6 = IpNet::parse("2001:db8::/32").unwrap();
    assert!(v6.contains("2001:db8::1".parse().unwrap()));
    assert!(IpNet::parse("10.0.0.0/33").is_none());
    assert!(
        IpNet::parse("0.0.0.0/0")
            .unwrap()
            .contains("1.2.3.4".parse().unwrap())
    );
}

#[test]
fn the_admin_certificate_is_resolved_beside_the_file_and_needs_both_files() {
    let admin = |certificate: &str| {
        format!("[admin]\nsecret_id = \"AKIDx\"\nsecret_key = \"k\"\n{certificate}\n{MINIMAL}")
    };
    let c = load(&admin("")).unwrap();
    assert_eq!(c.admin.as_ref().map(|a| a.tls.clone()), Some(None));
    let c = load(&admin(
        "certificate = { cert = \"certs/admin.pem\", key = \"/keys/admin.key\" }",
    ))
    .unwrap();
    assert_eq!(
        c.admin.and_then(|a| a.tls),
        Some(("/etc/stgw/certs/admin.pem".into(), "/keys/admin.key".into()))
    );
    let e = refused(&admin("certificate = { cert = \"a.pem\", key = \"\" }"));
    assert!(
        e.contains("admin.certificate") && e.contains("give both cert and key"),
        "{e}"
    );
    let e = refused(&admin("certificate = { cert = \"a.pem\" }"));
    assert!(e.contains("key"), "{e}");
}

#[test]
fn the_health_check_timeout_must_be_below_the_interval() {
    let check = |hc: &str| {
        MINIMAL.replace(
            "url = \"/\"",
            &format!("url = \"/\"\n      health_check = {hc}"),
        )
    };
    let msg = refused(&check("{ interval = 5, timeout = 5 }"));
    assert!(
        msg.contains("health_check.timeout: timeout 5 s must be less than interval 5 s"),
        "{msg}"
    );
    assert!(load(&check("{ interval = 6, timeout = 5 }")).is_ok());
}

#[test]
fn log_level_must_be_levels_or_target_directives() {
    for good in [
        "info",
        "WARN",
        "off",
        "info,stgw::health=debug",
        "stgw=trace,rustls=error",
    ] {
        let text = format!("[global]\nlog_level = \"{good}\"\n{MINIMAL}");
        assert!(load(&text).is_ok(), "{good} refused");
    }
    for bad in ["loud", "", "info,loud", "stgw=loud", "=info"] {
        let msg = refused(&format!("[global]\nlog_level = \"{bad}\"\n{MINIMAL}"));
        assert!(
            msg.contains("stgw.toml:2: global.log_level:")
                && msg.contains("error, warn, info, debug, trace, off"),
            "{bad}: {msg}"
        );
    }
}

#[test]
fn shape_errors_name_the_field_path() {
    let msg = refused(&MINIMAL.replace("port = 8080", "port = \"32100\""));
    assert!(
        msg.contains("stgw.toml:7: load_balancer[0].listener[0].port: invalid type"),
        "{msg}"
    );
    assert!(msg.contains("expected an integer"), "{msg}");
    let msg = refused(&MINIMAL.replace("\"HTTP\"", "\"http\""));
    assert!(
        msg.contains("stgw.toml:6: load_balancer[0].listener[0].protocol: unknown variant"),
        "{msg}"
    );
    assert!(msg.contains("HTTPS"), "{msg}");
    let msg = refused(&MINIMAL.replace("vip = \"127.0.0.1\"\n", ""));
    assert!(
        msg.contains("stgw.toml:2: load_balancer[0].vip: is required"),
        "{msg}"
    );
    let msg = refused(&MINIMAL.replace(
        "targets = [{ address = \"127.0.0.1:9001\" }]",
        "targets = [{ address = \"127.0.0.1:9001\" }, { address = \"127.0.0.1:9002\", weight = \"x\" }]",
    ));
    assert!(
        msg.contains("load_balancer[0].listener[0].domain[0].rule[0].targets[1].weight"),
        "{msg}"
    );
}

#[test]
fn certificates_and_instances_without_ids_get_stable_ones() {
    let text = format!(
        "[[certificate]]\ncert = \"certs/www.pem\"\nkey = \"certs/www.key\"\n\n[[instance]]\naddress = \"10.0.0.11\"\n{MINIMAL}"
    );
    let a = load(&text).unwrap();
    let b = load(&text).unwrap();
    let cert_id = a.file.certificates[0].id.clone();
    let ins_id = a.file.instances[0].id.clone();
    assert!(
        cert_id.starts_with("cert-") && cert_id.len() == 13,
        "{cert_id}"
    );
    assert!(ins_id.starts_with("ins-") && ins_id.len() == 12, "{ins_id}");
    assert_eq!(
        (&cert_id, &ins_id),
        (&b.file.certificates[0].id, &b.file.instances[0].id)
    );
    assert_eq!(a.certificates[0].1.id.as_deref(), Some(cert_id.as_str()));
    // References by the derived ids resolve.
    let referenced = text
        .replace(
            "targets = [{ address = \"127.0.0.1:9001\" }]",
            &format!("targets = [{{ instance = \"{ins_id}\", port = 80 }}]"),
        )
        .replace("protocol = \"HTTP\"", "protocol = \"HTTPS\"")
        .replace(
            "port = 8080",
            &format!("port = 8443\n  certificate = {{ id = \"{cert_id}\" }}"),
        );
    let c = load(&referenced).unwrap();
    let l = &c.load_balancers[0].listeners[0];
    assert_eq!(
        l.domains[0].rules[0].targets[0].addr.to_string(),
        "10.0.0.11:80"
    );
    let tls = l.tls.as_ref().unwrap();
    assert_eq!(tls.certificates[0].id.as_deref(), Some(cert_id.as_str()));
}

#[test]
fn a_bad_node_vip_is_reported_once_at_node_vip() {
    let commented = "# vip = { \"lb-local001\" = \"127.0.0.2\" }";
    let line = EXAMPLE.lines().position(|l| l.contains(commented)).unwrap() + 1;
    let msg = refused(&EXAMPLE.replace(commented, "vip = { \"lb-local001\" = \"nope\" }"));
    assert_eq!(msg.lines().count(), 1, "{msg}");
    assert!(
        msg.contains(&format!(
            "stgw.toml:{line}: node.vip.lb-local001: \"nope\" is not an IPv4 or IPv6 address"
        )),
        "{msg}"
    );
    let good = EXAMPLE.replace(commented, "vip = { \"lb-local001\" = \"127.0.0.2\" }");
    assert_eq!(
        load(&good).unwrap().load_balancers[0].vip,
        "127.0.0.2".parse::<IpAddr>().unwrap()
    );
}

#[test]
fn many_certificate_references_parse_the_file_once_for_their_lines() {
    let mut text = String::from(
        "[global]\nmax_rules_per_lb = 1000\n\n[[load_balancer]]\nname = \"t\"\nvip = \"127.0.0.1\"\n  [[load_balancer.listener]]\n  protocol = \"HTTPS\"\n  port = 8443\n  sni = true\n  certificate = { cert = \"fallback.pem\", key = \"fallback.key\" }\n",
    );
    for i in 0..200 {
        text.push_str(&format!(
            "    [[load_balancer.listener.domain]]\n    name = \"s{i}.example.com\"\n    certificate = {{ cert = \"s{i}.pem\", key = \"s{i}.key\" }}\n      [[load_balancer.listener.domain.rule]]\n      url = \"/\"\n"
        ));
    }
    error::DOCUMENT_PARSES.with(|n| n.set(0));
    let config = load(&text).expect("valid");
    let parses = error::DOCUMENT_PARSES.with(|n| n.get());
    // Once to read the model may use its own parser; the lines of the 402
    // certificate references must not cost a parse each.
    assert!(
        parses <= 2,
        "{parses} whole-document parses for 201 certificates"
    );
    let listener = &config.load_balancers[0].listeners[0];
    let last = listener.domains.last().expect("domains");
    let files = last.certificates.first().expect("a certificate");
    assert_eq!(files.named_at.cert.line, Some(11 + 199 * 5 + 3));
}
