use std::path::Path;

use super::*;

const NODE: &str = r#"
[global]
state_dir = "var"

[store]
kind = "etcd"
endpoints = ["http://127.0.0.1:2379"]

[node]
vip = { "lb-web00001" = "127.0.0.2" }
"#;

#[test]
fn a_node_file_may_override_a_load_balancer_only_the_store_has() {
    let config = Config::from_str(NODE, Path::new("/etc/stgw/stgw.toml")).unwrap();
    assert!(
        config.warnings.iter().any(|w| w.contains("lb-web00001")),
        "{:?}",
        config.warnings
    );
    let file_store = NODE.replace(
        "kind = \"etcd\"\nendpoints = [\"http://127.0.0.1:2379\"]",
        "kind = \"file\"",
    );
    assert!(Config::from_str(&file_store, Path::new("/etc/stgw/stgw.toml")).is_err());
}

#[test]
fn an_empty_prefix_or_endpoint_is_refused() {
    let empty_prefix = NODE.replace("[node]", "prefix = \"\"\n[node]");
    assert!(Config::from_str(&empty_prefix, Path::new("a.toml")).is_err());
    let empty_endpoint = NODE.replace("\"http://127.0.0.1:2379\"", "\"\"");
    assert!(Config::from_str(&empty_endpoint, Path::new("a.toml")).is_err());
}

#[test]
fn the_prefix_defaults_and_the_local_sections_keep_nothing_shared() {
    let config = Config::from_str(NODE, Path::new("a.toml")).unwrap();
    assert_eq!(prefix_of(&config.file.store), DEFAULT_PREFIX);
    let mut file = config.file.clone();
    file.instances.push(crate::config::model::Instance {
        id: "ins-1".into(),
        address: "10.0.0.1".into(),
    });
    let local = local_sections(&file);
    assert!(!has_shared_sections(&local));
    assert_eq!(local.node, file.node);
    assert_eq!(local.store, file.store);
}

#[test]
fn generated_sticky_secrets_are_32_hex_bytes() {
    let a = new_sticky_secret().unwrap();
    assert_eq!(from_hex(&a).map(|b| b.len()), Some(32));
    assert_ne!(a, new_sticky_secret().unwrap());
    assert!(from_hex("abc").is_none() && from_hex("zz").is_none() && from_hex("").is_none());
}
