//! Load balancer instances: DescribeLoadBalancers, CreateLoadBalancer,
//! DeleteLoadBalancer, ModifyLoadBalancerAttributes.
//!
//! A load balancer is a `[[load_balancer]]` of the file. Its VIP is the
//! address its listeners bind: CreateLoadBalancer takes it from `Vip`
//! (the product's fixed-VIP parameter), else `127.0.0.1` (`::1` with
//! `AddressIPVersion = IPV6`). `LoadBalancerType` is not stored: it is
//! shown as `INTERNAL` for a loopback or private VIP and `OPEN` otherwise.

use std::net::IpAddr;

use serde::Serialize;
use serde_json::Value;

use super::common::{check_length, check_range, lb_index, lb_mut, one_of, target_addr};
use super::{Api, empty, output};
use crate::admin::error::{ApiError, Code};
use crate::admin::ids::new_id;
use crate::admin::params::input;
use crate::config::model::{self, ConfigFile};

input! {
    /// The product's `Filter`.
    pub struct FilterInput {
        /// Filter name.
        name: req String = "Name",
        /// Accepted values.
        values: req Vec<String> = "Values",
    }
}

input! {
    /// DescribeLoadBalancers input.
    pub struct DescribeInput {
        /// Ids.
        load_balancer_ids: opt Vec<String> = "LoadBalancerIds",
        /// OPEN | INTERNAL.
        load_balancer_type: opt String = "LoadBalancerType",
        /// 1 = application LB (all of stgw's), 0 = classic, -1 = all.
        forward: opt i64 = "Forward",
        /// Exact name.
        load_balancer_name: opt String = "LoadBalancerName",
        /// Platform domain: none in stgw.
        domain: opt String = "Domain",
        /// VIPs.
        load_balancer_vips: opt Vec<String> = "LoadBalancerVips",
        /// Public IPs of targets: none known.
        backend_public_ips: opt Vec<String> = "BackendPublicIps",
        /// IPs of targets.
        backend_private_ips: opt Vec<String> = "BackendPrivateIps",
        /// Default 0.
        offset: opt i64 = "Offset",
        /// Default 20, at most 100.
        limit: opt i64 = "Limit",
        /// LoadBalancerName | CreateTime | Domain | LoadBalancerType.
        order_by: opt String = "OrderBy",
        /// 1 descending (default), 0 ascending.
        order_type: opt i64 = "OrderType",
        /// Part of the name, id or VIP.
        search_key: opt String = "SearchKey",
        /// Every stgw LB is in project 0.
        project_id: opt i64 = "ProjectId",
        /// 0 without targets, 1 with, -1 all.
        with_rs: opt i64 = "WithRs",
        /// "0" (basic network) matches all.
        vpc_id: opt String = "VpcId",
        /// None in stgw.
        security_group: opt String = "SecurityGroup",
        /// None in stgw.
        master_zone: opt String = "MasterZone",
        /// At most 10, each with at most 100 values.
        filters: opt Vec<FilterInput> = "Filters",
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct LoadBalancerOutput {
    load_balancer_id: String,
    load_balancer_name: String,
    load_balancer_type: String,
    forward: u64,
    domain: Option<String>,
    load_balancer_vips: Vec<String>,
    status: u64,
    create_time: Option<String>,
    status_time: Option<String>,
    project_id: u64,
    vpc_id: Option<String>,
    open_bgp: u64,
    snat: bool,
    isolation: u64,
    #[serde(rename = "AddressIPVersion")]
    address_ip_version: String,
    snat_pro: bool,
    is_block: bool,
    load_balancer_pass_to_target: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct DescribeOutput {
    total_count: u64,
    load_balancer_set: Vec<LoadBalancerOutput>,
}

/// `INTERNAL` for a loopback, private, link-local or unique-local VIP;
/// `OPEN` otherwise.
fn network_type(vip: IpAddr) -> &'static str {
    let internal = match vip {
        IpAddr::V4(v4) => v4.is_loopback() || v4.is_private() || v4.is_link_local(),
        IpAddr::V6(v6) => {
            v6.is_loopback()
                || (v6.segments()[0] & 0xfe00) == 0xfc00
                || (v6.segments()[0] & 0xffc0) == 0xfe80
        }
    };
    if internal { "INTERNAL" } else { "OPEN" }
}

/// Lists load balancers, filtered, ordered and paginated as the product
/// does (creation order = file order; `TotalCount` counts every match).
pub(crate) fn describe(api: &Api, input: DescribeInput) -> Result<Value, ApiError> {
    let config = api.store.current();
    let offset = check_range("Offset", input.offset.unwrap_or(0), 0, i64::MAX)? as usize;
    let limit = check_range("Limit", input.limit.unwrap_or(20), 0, 100)? as usize;
    if let Some(t) = &input.load_balancer_type {
        one_of("LoadBalancerType", t, &["OPEN", "INTERNAL"])?;
    }
    if let Some(f) = input.forward {
        check_range("Forward", f, -1, 1)?;
    }
    if let Some(w) = input.with_rs {
        check_range("WithRs", w, -1, 1)?;
    }
    let filters = input.filters.clone().unwrap_or_default();
    if filters.len() > 10 {
        return Err(ApiError::new(
            Code::InvalidFilter,
            format!("Filters: {} filters exceed the limit of 10", filters.len()),
        ));
    }
    for (i, f) in filters.iter().enumerate() {
        if !["internet-charged", "master-zone-id", "tag-key"].contains(&f.name.as_str()) {
            return Err(ApiError::new(
                Code::InvalidFilter,
                format!(
                    "Filters.{i}.Name: {:?} is not one of internet-charged, master-zone-id, tag-key",
                    f.name
                ),
            ));
        }
        if f.values.len() > 100 {
            return Err(ApiError::new(
                Code::InvalidFilter,
                format!(
                    "Filters.{i}.Values: {} values exceed the limit of 100",
                    f.values.len()
                ),
            ));
        }
    }
    let mut matches: Vec<(usize, LoadBalancerOutput)> = Vec::new();
    for (index, lb) in config.load_balancers.iter().enumerate() {
        let file_lb = &config.file.load_balancers[index];
        let vip = lb.vip.to_string();
        let kind = network_type(lb.vip);
        let backend_ips: Vec<IpAddr> = file_lb
            .listeners
            .iter()
            .flat_map(|l| &l.domains)
            .flat_map(|d| &d.rules)
            .flat_map(|r| &r.targets)
            .filter_map(|t| target_addr(t, &config.file.instances))
            .map(|a| a.ip())
            .collect();
        let keep = input
            .load_balancer_ids
            .as_ref()
            .is_none_or(|ids| ids.contains(&lb.id))
            && input
                .load_balancer_type
                .as_ref()
                .is_none_or(|t| t.eq_ignore_ascii_case(kind))
            && input.forward.is_none_or(|f| f != 0)
            && input
                .load_balancer_name
                .as_ref()
                .is_none_or(|n| *n == lb.name)
            && input.domain.is_none()
            && input
                .load_balancer_vips
                .as_ref()
                .is_none_or(|v| v.iter().any(|x| x.trim() == vip))
            && input.backend_public_ips.is_none()
            && input.backend_private_ips.as_ref().is_none_or(|ips| {
                ips.iter().any(|ip| {
                    ip.trim()
                        .parse::<IpAddr>()
                        .is_ok_and(|ip| backend_ips.contains(&ip))
                })
            })
            && input.search_key.as_ref().is_none_or(|k| {
                lb.name.contains(k.as_str())
                    || lb.id.contains(k.as_str())
                    || vip.contains(k.as_str())
            })
            && input.project_id.is_none_or(|p| p == 0)
            && input.with_rs.is_none_or(|w| match w {
                0 => backend_ips.is_empty(),
                1 => !backend_ips.is_empty(),
                _ => true,
            })
            && input.vpc_id.as_ref().is_none_or(|v| v == "0")
            && input.security_group.is_none()
            && input.master_zone.is_none()
            && filters.is_empty();
        if keep {
            matches.push((
                index,
                LoadBalancerOutput {
                    load_balancer_id: lb.id.clone(),
                    load_balancer_name: lb.name.clone(),
                    load_balancer_type: kind.into(),
                    forward: 1,
                    domain: None,
                    load_balancer_vips: vec![vip.clone()],
                    status: 1,
                    create_time: None,
                    status_time: None,
                    project_id: 0,
                    vpc_id: None,
                    open_bgp: 0,
                    snat: false,
                    isolation: 0,
                    address_ip_version: if lb.vip.is_ipv4() { "ipv4" } else { "ipv6" }.into(),
                    snat_pro: false,
                    is_block: false,
                    load_balancer_pass_to_target: false,
                },
            ));
        }
    }
    let descending = check_range("OrderType", input.order_type.unwrap_or(1), 0, 1)? == 1;
    match input.order_by.as_deref() {
        None | Some("CreateTime") | Some("Domain") => matches.sort_by_key(|(i, _)| *i),
        Some("LoadBalancerName") => {
            matches.sort_by(|a, b| a.1.load_balancer_name.cmp(&b.1.load_balancer_name))
        }
        Some("LoadBalancerType") => {
            matches.sort_by(|a, b| a.1.load_balancer_type.cmp(&b.1.load_balancer_type))
        }
        Some(other) => {
            return Err(ApiError::value(
                "OrderBy",
                format_args!(
                    "{other:?} is not one of LoadBalancerName, CreateTime, Domain, LoadBalancerType"
                ),
            ));
        }
    }
    if descending {
        matches.reverse();
    }
    let total = matches.len() as u64;
    let page = matches
        .into_iter()
        .skip(offset)
        .take(limit)
        .map(|(_, o)| o)
        .collect();
    output(&DescribeOutput {
        total_count: total,
        load_balancer_set: page,
    })
}

input! {
    /// CreateLoadBalancer input. Placement, billing and network
    /// parameters of the cloud are accepted and have no effect.
    pub struct CreateInput {
        /// OPEN | INTERNAL (not stored; see the module documentation).
        load_balancer_type: req String = "LoadBalancerType",
        /// Only 1.
        forward: opt i64 = "Forward",
        /// 1–50 characters.
        load_balancer_name: opt String = "LoadBalancerName",
        /// stgw: the address the listeners bind (default 127.0.0.1).
        vip: opt String = "Vip",
        /// IPV4 (default) | IPV6 | IPv6FullChain.
        address_ip_version: opt String = "AddressIPVersion",
        /// How many (default 1, at most 20).
        number: opt i64 = "Number",
        /// No effect.
        vpc_id: opt Value = "VpcId",
        /// No effect.
        subnet_id: opt Value = "SubnetId",
        /// No effect.
        project_id: opt Value = "ProjectId",
        /// No effect.
        master_zone_id: opt Value = "MasterZoneId",
        /// No effect.
        zone_id: opt Value = "ZoneId",
        /// No effect.
        slave_zone_id: opt Value = "SlaveZoneId",
        /// No effect.
        internet_accessible: opt Value = "InternetAccessible",
        /// No effect.
        vip_isp: opt Value = "VipIsp",
        /// No effect.
        tags: opt Value = "Tags",
        /// No effect.
        eip_address_id: opt Value = "EipAddressId",
        /// No effect.
        cluster_ids: opt Value = "ClusterIds",
        /// No effect.
        tgw_set_labels: opt Value = "TgwSetLabels",
        /// No effect.
        stgw_set_labels: opt Value = "StgwSetLabels",
        /// No effect.
        ipv6_decouple_vpc: opt Value = "IPv6DecoupleVpc",
        /// No effect.
        anycast_zone: opt Value = "AnycastZone",
        /// No effect.
        zhi_tong: opt Value = "ZhiTong",
        /// No effect.
        tgw_group_name: opt Value = "TgwGroupName",
        /// No effect.
        is_ddos: opt Value = "IsDDos",
        /// No effect.
        bandwidth_package_id: opt Value = "BandwidthPackageId",
        /// No effect.
        exclusive_cluster: opt Value = "ExclusiveCluster",
    }
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct CreateOutput {
    load_balancer_ids: Vec<String>,
}

/// 1–50 characters: letters (any script), digits, `-`, `_`, `.`.
fn check_name(field: &str, name: &str) -> Result<(), ApiError> {
    check_length(field, name, 1, 50)?;
    if !name
        .chars()
        .all(|c| c.is_alphanumeric() || "-_.".contains(c))
    {
        return Err(ApiError::value(
            field,
            "may contain only letters, digits, '-', '_' and '.'",
        ));
    }
    Ok(())
}

fn name_taken(file: &ConfigFile, name: &str) -> bool {
    file.load_balancers.iter().any(|lb| lb.name == name)
}

/// Adds `Number` load balancers binding `Vip`; returns their ids.
pub(crate) async fn create(api: &Api, input: CreateInput) -> Result<Value, ApiError> {
    one_of(
        "LoadBalancerType",
        &input.load_balancer_type,
        &["OPEN", "INTERNAL"],
    )?;
    if let Some(f) = input.forward {
        check_range("Forward", f, 1, 1)?;
    }
    let ipv6 = match &input.address_ip_version {
        None => false,
        Some(v) => one_of("AddressIPVersion", v, &["IPV4", "IPV6", "IPv6FullChain"])? != "IPV4",
    };
    let vip: IpAddr = match &input.vip {
        Some(v) => v.trim().parse().map_err(|_| {
            ApiError::value("Vip", format_args!("{v:?} is not an IPv4 or IPv6 address"))
        })?,
        None if ipv6 => IpAddr::from([0, 0, 0, 0, 0, 0, 0, 1]),
        None => IpAddr::from([127, 0, 0, 1]),
    };
    if input.vip.is_some() && vip.is_ipv6() != ipv6 && input.address_ip_version.is_some() {
        return Err(ApiError::value(
            "Vip",
            format_args!("{vip} does not match AddressIPVersion"),
        ));
    }
    let number = check_range("Number", input.number.unwrap_or(1), 1, 20)? as usize;
    if let Some(name) = &input.load_balancer_name {
        check_name("LoadBalancerName", name)?;
    }
    let ids = api
        .store
        .write(|file, _| {
            let mut ids = Vec::new();
            for _ in 0..number {
                let id = new_id("lb-", |id| {
                    file.load_balancers
                        .iter()
                        .any(|lb| lb.id.as_deref() == Some(id))
                });
                let name = match &input.load_balancer_name {
                    Some(n) if number == 1 && !name_taken(file, n) => n.clone(),
                    _ => id.clone(),
                };
                file.load_balancers.push(model::LoadBalancer {
                    id: Some(id.clone()),
                    name,
                    vip: vip.to_string(),
                    custom_config: None,
                    listeners: Vec::new(),
                    rewrites: Vec::new(),
                    auto_rewrites: Vec::new(),
                });
                ids.push(id);
            }
            Ok(ids)
        })
        .await?;
    output(&CreateOutput {
        load_balancer_ids: ids,
    })
}

input! {
    /// DeleteLoadBalancer input.
    pub struct DeleteInput {
        /// At most 20.
        load_balancer_ids: req Vec<String> = "LoadBalancerIds",
    }
}

/// Removes load balancers with their listeners (their ports close).
pub(crate) async fn delete(api: &Api, input: DeleteInput) -> Result<Value, ApiError> {
    if input.load_balancer_ids.is_empty() || input.load_balancer_ids.len() > 20 {
        return Err(ApiError::value(
            "LoadBalancerIds",
            format_args!("{} ids: give 1-20", input.load_balancer_ids.len()),
        ));
    }
    api.store
        .write(|file, _| {
            for (i, id) in input.load_balancer_ids.iter().enumerate() {
                let index = lb_index(file, id, &format!("LoadBalancerIds.{i}"))?;
                file.load_balancers.remove(index);
                file.node.vip.remove(id);
            }
            Ok(())
        })
        .await?;
    empty()
}

input! {
    /// ModifyLoadBalancerAttributes input.
    pub struct ModifyInput {
        /// LB id.
        load_balancer_id: req String = "LoadBalancerId",
        /// New name.
        load_balancer_name: opt String = "LoadBalancerName",
        /// Not supported.
        target_region_info: opt Value = "TargetRegionInfo",
        /// Not supported.
        internet_charge_info: opt Value = "InternetChargeInfo",
        /// Not supported.
        load_balancer_pass_to_target: opt Value = "LoadBalancerPassToTarget",
        /// Not supported.
        snat_pro: opt Value = "SnatPro",
        /// Not supported.
        charge_type: opt Value = "ChargeType",
        /// Not supported.
        switch_flag: opt Value = "SwitchFlag",
        /// Not supported.
        prepaid_info: opt Value = "PrepaidInfo",
        /// Not supported.
        exclusive_cluster: opt Value = "ExclusiveCluster",
    }
}

/// Renames a load balancer (the only attribute a self-hosted one has).
pub(crate) async fn modify(api: &Api, input: ModifyInput) -> Result<Value, ApiError> {
    for (name, set) in [
        ("TargetRegionInfo", input.target_region_info.is_some()),
        ("InternetChargeInfo", input.internet_charge_info.is_some()),
        (
            "LoadBalancerPassToTarget",
            input.load_balancer_pass_to_target.is_some(),
        ),
        ("SnatPro", input.snat_pro.is_some()),
        ("ChargeType", input.charge_type.is_some()),
        ("SwitchFlag", input.switch_flag.is_some()),
        ("PrepaidInfo", input.prepaid_info.is_some()),
        ("ExclusiveCluster", input.exclusive_cluster.is_some()),
    ] {
        if set {
            return Err(ApiError::new(
                Code::UnsupportedOperation,
                format!("{name}: a self-hosted load balancer has no such attribute"),
            ));
        }
    }
    let Some(name) = input.load_balancer_name else {
        return Err(ApiError::missing("LoadBalancerName"));
    };
    check_name("LoadBalancerName", &name)?;
    api.store
        .write(|file, _| {
            let taken = file.load_balancers.iter().any(|lb| {
                lb.name == name && lb.id.as_deref() != Some(input.load_balancer_id.as_str())
            });
            let lb = lb_mut(file, &input.load_balancer_id, "LoadBalancerId")?;
            if taken {
                return Err(ApiError::new(
                    Code::Duplicate,
                    format!("LoadBalancerName: another load balancer is named {name:?}"),
                ));
            }
            lb.name = name.clone();
            Ok(())
        })
        .await?;
    empty()
}
