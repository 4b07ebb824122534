//! Authorising one request against a principal's grants (criterion): one grant on `*`, and 100
//! grants of which the one that allows is the last (99 on other spaces' patterns), as
//! `switchyard bench events --grants 100` gives its service account.
//!
//! Run: `cargo bench -p switchyard-model --bench grants`.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use switchyard_model::{AddressPattern, Grant, GrantSet, builtin_role, permissions};

fn grant(role: &str, pattern: &str) -> Grant {
    Grant {
        role: builtin_role(role).expect("a built-in role"),
        pattern: AddressPattern::parse(pattern).expect("a pattern"),
    }
}

fn benches(c: &mut Criterion) {
    let address = ["bench", "machines", "bench-cycle", "i-42"];
    let one = GrantSet::new(vec![grant("sys-admin", "*")]);
    let mut grants: Vec<Grant> = (0..99).map(|i| grant("space-writer", &format!("other-{i}:machines:*"))).collect();
    grants.push(grant("space-writer", "bench:*"));
    let hundred = GrantSet::new(grants);
    assert!(one.allows(permissions::EVENTS_SEND, &address) && hundred.allows(permissions::EVENTS_SEND, &address));

    c.bench_function("allow an event, 1 grant", |b| {
        b.iter(|| black_box(&one).allows(permissions::EVENTS_SEND, black_box(&address)))
    });
    c.bench_function("allow an event, 100 grants", |b| {
        b.iter(|| black_box(&hundred).allows(permissions::EVENTS_SEND, black_box(&address)))
    });
    c.bench_function("allow an event, 100 grants scanned in order", |b| {
        b.iter(|| {
            black_box(&hundred)
                .grants()
                .iter()
                .any(|g| g.role.grants(permissions::EVENTS_SEND) && g.pattern.matches(black_box(&address)))
        })
    });
}

criterion_group!(grant_benches, benches);
criterion_main!(grant_benches);
