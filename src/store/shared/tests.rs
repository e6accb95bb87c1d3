use super::*;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("stgw-shared-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const FILE: &str = r#"
[global]
state_dir = "var"

[store]
kind = "etcd"
endpoints = ["http://127.0.0.1:2379"]

[node]
vip = { "lb-web00001" = "127.0.0.2" }

[admin]
listen = "127.0.0.1:9180"
secret_id = "AKIDx"
secret_key = "k"

[[certificate]]
id = "cert-www00001"
cert = "certs/www.pem"
key = "certs/www.key"

[[certificate]]
id = "cert-ca000001"
type = "CA"
cert = "certs/www.pem"

[[instance]]
id = "ins-web00001"
address = "10.0.0.11"

[[load_balancer]]
id = "lb-web00001"
name = "web"
vip = "127.0.0.1"
"#;

#[test]
fn every_section_of_the_file_is_node_local_or_shared() {
    let file: ConfigFile = toml::from_str(FILE).unwrap();
    let table = toml::Table::try_from(&file).unwrap();
    let shared: toml::Table = toml::Table::try_from(SharedConfig {
        certificates: file.certificates.clone(),
        instances: file.instances.clone(),
        load_balancers: file.load_balancers.clone(),
    })
    .unwrap();
    for key in table.keys() {
        let local = ["global", "store", "node", "admin"].contains(&key.as_str());
        assert!(
            local || shared.contains_key(key),
            "section {key} is neither node-local nor shared"
        );
    }
}

#[test]
fn extract_reads_certificate_files_once_and_merge_points_at_local_copies() {
    let dir = scratch("roundtrip");
    std::fs::create_dir_all(dir.join("certs")).unwrap();
    std::fs::write(dir.join("certs/www.pem"), "CERT").unwrap();
    std::fs::write(dir.join("certs/www.key"), "KEY").unwrap();
    let file: ConfigFile = toml::from_str(FILE).unwrap();
    let first = extract(&file, &dir, None).unwrap();
    let cert_key = pem_key(b"CERT");
    assert_eq!(first.shared.certificates[0].cert, cert_key);
    assert_eq!(
        first.shared.certificates[1].cert, cert_key,
        "same contents, same key"
    );
    assert_eq!(first.shared.certificates[0].key, Some(pem_key(b"KEY")));
    assert_eq!(first.contents.len(), 2);
    assert_eq!(first.shared.pem_keys().len(), 2);
    assert_eq!(first.shared.instances, file.instances);
    assert_eq!(first.shared.load_balancers, file.load_balancers);

    let pems = PemDir::new(&dir.join("var")).unwrap();
    for (key, contents) in &first.contents {
        pems.write(key, contents).unwrap();
    }
    let local: ConfigFile = ConfigFile {
        certificates: Vec::new(),
        instances: Vec::new(),
        load_balancers: Vec::new(),
        ..file.clone()
    };
    let model = merge(&local, &first.shared, &pems);
    assert_eq!(model.global, file.global);
    assert_eq!(model.node, file.node);
    assert_eq!(model.admin, file.admin);
    let copy = Path::new(&model.certificates[0].cert);
    assert!(copy.is_absolute());
    assert_eq!(std::fs::read(copy).unwrap(), b"CERT");

    let again = extract(&model, Path::new("/elsewhere"), Some(&pems)).unwrap();
    assert_eq!(
        again.shared, first.shared,
        "local copies map back to their keys"
    );
    assert!(again.contents.is_empty() && again.read_files.is_empty());

    let text = first.shared.to_toml().unwrap();
    assert_eq!(SharedConfig::parse(&text, "config").unwrap(), first.shared);
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn a_copy_whose_contents_do_not_match_its_key_is_refused() {
    let dir = scratch("corrupt");
    let pems = PemDir::new(&dir).unwrap();
    let key = pem_key(b"right");
    assert!(matches!(
        pems.write(&key, b"wrong"),
        Err(StoreError::Corrupt { .. })
    ));
    assert!(!pems.has(&key));
    pems.write(&key, b"right").unwrap();
    assert!(pems.has(&key));
    assert_eq!(pems.read(&key).unwrap(), b"right");
    let other = pem_key(b"other");
    pems.write(&other, b"other").unwrap();
    pems.retain(&BTreeSet::from([key.clone()]));
    assert!(
        pems.has(&key) && !pems.has(&other),
        "copies no longer named go"
    );
    assert!(pems.path_of("pem/../../etc/passwd").is_none());
    assert!(pems.key_of(Path::new("/etc/passwd")).is_none());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn an_unreadable_certificate_file_names_its_entry() {
    let dir = scratch("missing");
    let file: ConfigFile = toml::from_str(FILE).unwrap();
    match extract(&file, &dir, None) {
        Err(StoreError::CertificateFile { id, .. }) => assert_eq!(id, "cert-www00001"),
        other => panic!("{other:?}"),
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn pem_keys_have_one_shape() {
    let key = pem_key(b"x");
    assert!(is_pem_key(&key));
    assert!(!is_pem_key("pem/abc"));
    assert!(!is_pem_key("certs/www.pem"));
    assert!(!is_pem_key(&key.to_uppercase()));
}
