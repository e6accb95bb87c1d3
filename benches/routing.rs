//! Route matching at scale: 50 listeners × 50 rules each (regexes
//! included), quotas raised. Measures host + path normalisation and the
//! route table lookup for a mix of requests.

use std::hint::black_box;
use std::path::Path;
use std::sync::Arc;

use criterion::{Criterion, criterion_group, criterion_main};
use stgw::config::Config;
use stgw::routing::{HostName, normalize_path};
use stgw::runtime::snapshot::{Snapshot, State};

fn config() -> String {
    let mut toml = String::from("[global]\nmax_listeners_per_lb = 100\nmax_rules_per_lb = 5000\n");
    toml.push_str("[[load_balancer]]\nname = \"bench\"\nvip = \"127.0.0.1\"\n");
    for l in 0..50 {
        toml.push_str(&format!(
            "  [[load_balancer.listener]]\n  protocol = \"HTTP\"\n  port = {}\n",
            30000 + l
        ));
        let domains = [
            format!("www{l}.example.com"),
            format!("*.svc{l}.example.com"),
            format!("api{l}.example.*"),
            format!("~^img\\d+\\.cdn{l}\\.net$"),
            format!("static{l}.example.com"),
        ];
        for (d, name) in domains.iter().enumerate() {
            toml.push_str(&format!(
                "    [[load_balancer.listener.domain]]\n    name = '{name}'\n"
            ));
            for r in 0..10 {
                let url = match r {
                    0 => "/".to_owned(),
                    1 => format!("= /exact{d}"),
                    2 => format!("^~ /static{d}/"),
                    3 => format!("~* \\.(gif|jpg|png){d}$"),
                    4 => format!("~ ^/api/v{d}/users/\\d+$"),
                    n => format!("/app{n}/section{d}/"),
                };
                toml.push_str(&format!(
                    "      [[load_balancer.listener.domain.rule]]\n      url = '{url}'\n      targets = [{{ address = \"127.0.0.1:{}\" }}]\n",
                    9000 + r
                ));
            }
        }
    }
    toml
}

fn bench_routing(c: &mut Criterion) {
    let config = Config::from_str(&config(), Path::new("/bench/stgw.toml")).expect("bench config");
    let snapshot =
        Snapshot::compile(Arc::new(config), &State::ephemeral().expect("state")).expect("compile");
    let requests: Vec<(usize, &str, &str)> = vec![
        (3, "www3.example.com", "/app7/section0/page.html"),
        (17, "a.b.svc17.example.com", "/static1/logo.svg"),
        (42, "api42.example.org", "/api/v2/users/12345"),
        (8, "img77.cdn8.net", "/photos/cat.JPG3"),
        (49, "unknown.host", "/"),
        (25, "static25.example.com", "/exact4"),
        (30, "www30.example.com", "/a/../app5/./section0//x"),
        (11, "www11.example.com", "/%61pp6/section0/"),
    ];
    c.bench_function("route 50x50 (host + path normalisation + lookup)", |b| {
        b.iter(|| {
            for (l, host, path) in &requests {
                let listener = &snapshot.listeners[*l];
                let host = HostName::parse(host.as_bytes()).ok();
                let path = normalize_path(path.as_bytes()).ok();
                if let (Some(host), Some(path)) = (host, path) {
                    black_box(listener.routes.route(Some(host.as_str()), &path));
                }
            }
        })
    });
    c.bench_function("route 50x50 (lookup only, simple path)", |b| {
        let listener = &snapshot.listeners[3];
        b.iter(|| {
            black_box(listener.routes.route(
                Some(black_box("www3.example.com")),
                black_box(b"/app7/section0/page.html"),
            ))
        })
    });
}

criterion_group!(benches, bench_routing);
criterion_main!(benches);
