use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::*;

fn balancer(scheduler: Scheduler, weights: &[u32]) -> Balancer {
    let candidates = weights
        .iter()
        .enumerate()
        .map(|(i, &weight)| Candidate {
            weight,
            load: Arc::new(TargetLoad::default()),
            health: Arc::new(TargetHealth::default()),
            hash: target_hash(SocketAddr::from(([10, 0, 0, i as u8 + 1], 80))),
        })
        .collect();
    Balancer::new(
        scheduler,
        candidates,
        Arc::new(WrrState::new(weights.len())),
    )
}

const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn counts(b: &Balancer, n: usize) -> Vec<usize> {
    let mut counts = vec![0; b.candidates().len()];
    for _ in 0..n {
        counts[b.pick(CLIENT, &[]).unwrap().index] += 1;
    }
    counts
}

#[test]
fn wrr_is_exact_over_whole_cycles_for_the_products_scenario() {
    let b = balancer(Scheduler::Wrr, &[90, 30, 30, 30, 10]);
    assert_eq!(counts(&b, 190 * 3), vec![270, 90, 90, 90, 30]);
}

#[test]
fn wrr_is_smooth_like_nginx() {
    // nginx's documented sequence for weights 5, 1, 1: a a b a c a a.
    let b = balancer(Scheduler::Wrr, &[5, 1, 1]);
    let seq: Vec<usize> = (0..7).map(|_| b.pick(CLIENT, &[]).unwrap().index).collect();
    assert_eq!(seq, vec![0, 0, 1, 0, 2, 0, 0]);
}

#[test]
fn weight_zero_is_never_chosen() {
    for scheduler in [Scheduler::Wrr, Scheduler::LeastConn, Scheduler::IpHash] {
        let b = balancer(scheduler, &[0, 10, 0]);
        for i in 0..100u8 {
            let client = IpAddr::V4(Ipv4Addr::new(192, 0, 2, i));
            assert_eq!(b.pick(client, &[]).unwrap().index, 1);
        }
        let b = balancer(scheduler, &[0, 0]);
        assert_eq!(b.pick(CLIENT, &[]), None);
    }
}

#[test]
fn dead_targets_are_skipped_until_all_are_dead() {
    let b = balancer(Scheduler::Wrr, &[10, 10, 10]);
    b.candidates()[0].health.set(HealthState::Dead);
    assert_eq!(counts(&b, 100)[0], 0);
    assert!(!b.all_dead());
    b.candidates()[1].health.set(HealthState::Dead);
    b.candidates()[2].health.set(HealthState::Dead);
    assert!(b.all_dead());
    let c = counts(&b, 300);
    assert_eq!(c, vec![100, 100, 100]);
    assert!(b.pick(CLIENT, &[]).unwrap().all_dead);
}

#[test]
fn tried_targets_are_skipped() {
    let b = balancer(Scheduler::Wrr, &[10, 10, 10]);
    for _ in 0..10 {
        let p = b.pick(CLIENT, &[0, 2]).unwrap();
        assert_eq!(p.index, 1);
    }
    assert_eq!(b.pick(CLIENT, &[0, 1, 2]), None);
}

#[test]
fn least_conn_avoids_the_busy_target_and_weighs_load() {
    let b = balancer(Scheduler::LeastConn, &[10, 10, 20]);
    let _busy: Vec<_> = (0..3).map(|_| b.candidates()[0].load.start()).collect();
    let _one = b.candidates()[2].load.start();
    // active/weight: 3/10, 0/10, 1/20 → target 1.
    assert_eq!(b.pick(CLIENT, &[]).unwrap().index, 1);
    let _two = b.candidates()[1].load.start();
    // 3/10, 1/10, 1/20 → target 2.
    assert_eq!(b.pick(CLIENT, &[]).unwrap().index, 2);
}

#[test]
fn least_conn_breaks_ties_by_weighted_round_robin() {
    let b = balancer(Scheduler::LeastConn, &[30, 10]);
    assert_eq!(counts(&b, 40), vec![30, 10]);
}

#[test]
fn active_counts_drop_with_the_guard() {
    let load = Arc::new(TargetLoad::default());
    let g = load.start();
    assert_eq!(load.active(), 1);
    drop(g);
    assert_eq!(load.active(), 0);
}

fn clients(n: u32) -> impl Iterator<Item = IpAddr> {
    (0..n).map(|i| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i * 7919)))
}

#[test]
fn ip_hash_is_stable_and_moves_only_a_removed_targets_clients() {
    let five = balancer(Scheduler::IpHash, &[10; 5]);
    let before: HashMap<IpAddr, usize> = clients(1000)
        .map(|c| (c, five.pick(c, &[]).unwrap().index))
        .collect();
    for (c, t) in &before {
        assert_eq!(five.pick(*c, &[]).unwrap().index, *t);
    }
    // Remove target 2: a balancer over the other four (same addresses).
    let four_candidates: Vec<Candidate> = five
        .candidates()
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 2)
        .map(|(_, c)| c.clone())
        .collect();
    let four = Balancer::new(
        Scheduler::IpHash,
        four_candidates,
        Arc::new(WrrState::new(4)),
    );
    let original = [0, 1, 3, 4];
    let mut moved = 0;
    for (c, t) in &before {
        let now = original[four.pick(*c, &[]).unwrap().index];
        if *t == 2 {
            moved += 1;
        } else {
            assert_eq!(now, *t, "client {c} moved off a target that stayed");
        }
    }
    assert!(
        (120..=280).contains(&moved),
        "target 2 had {moved} of 1000 clients"
    );
}

#[test]
fn ip_hash_sends_a_dead_targets_clients_elsewhere_and_back() {
    let b = balancer(Scheduler::IpHash, &[10; 4]);
    let before: Vec<(IpAddr, usize)> = clients(400)
        .map(|c| (c, b.pick(c, &[]).unwrap().index))
        .collect();
    b.candidates()[1].health.set(HealthState::Dead);
    for (c, t) in &before {
        let now = b.pick(*c, &[]).unwrap().index;
        assert_ne!(now, 1);
        if *t != 1 {
            assert_eq!(now, *t);
        }
    }
    b.candidates()[1].health.set(HealthState::Alive);
    for (c, t) in &before {
        assert_eq!(b.pick(*c, &[]).unwrap().index, *t);
    }
}

#[test]
fn ip_hash_is_weight_aware() {
    let b = balancer(Scheduler::IpHash, &[30, 10]);
    let mut counts = [0usize; 2];
    for c in clients(4000) {
        counts[b.pick(c, &[]).unwrap().index] += 1;
    }
    let share = counts[0] as f64 / 4000.0;
    assert!((0.70..0.80).contains(&share), "weight 30 of 40 got {share}");
}

#[test]
fn ip_hash_takes_ipv6_clients_and_mapped_ipv4_as_ipv4() {
    let b = balancer(Scheduler::IpHash, &[10; 3]);
    let v4: IpAddr = "192.0.2.7".parse().unwrap();
    let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
    assert_eq!(b.pick(v4, &[]), b.pick(mapped, &[]));
    let v6: IpAddr = "2001:db8::1".parse().unwrap();
    assert!(b.pick(v6, &[]).is_some());
}
