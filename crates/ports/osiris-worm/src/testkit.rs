//! The conformance suite every backend runs: `run_suite(&store, now)` from
//! the backend's own integration test, against an empty store.
//!
//! `now` must be the present as the backend sees it: an S3 server enforces
//! retention by its own clock, so the suite waits (about three seconds) for
//! one short retention period to end before proving that deletion is then
//! allowed. A failed expectation panics with a message naming the step.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "the suite is test code: a failed expectation must abort the test run"
)]

use chrono::{DateTime, Duration, DurationRound, Utc};

use crate::{ContentHash, Error, KeyPrefix, LegalHold, ObjectKey, PutItem, PutOutcome, WormStore};

/// How long the short-lived objects are retained.
const SHORT_RETENTION_SECONDS: i64 = 2;

/// Runs the whole suite against `store`, which must be empty.
pub async fn run_suite(store: &dyn WormStore, now: DateTime<Utc>) {
    // Whole seconds: S3 carries retention dates at second precision.
    let now = now.duration_trunc(Duration::seconds(1)).unwrap();
    write_once(store, now).await;
    batch_writes(store, now).await;
    missing_objects(store, now).await;
    retention_only_grows(store, now).await;
    let short_until = now + Duration::seconds(SHORT_RETENTION_SECONDS);
    let held = short_lived(store, "suite/expiry/held.json", short_until).await;
    let free = short_lived(store, "suite/expiry/free.json", short_until).await;
    listing(store, now).await;
    expiry_and_legal_hold(store, &held, &free, short_until, now).await;
}

fn key(text: &str) -> ObjectKey {
    ObjectKey::parse(text).unwrap()
}

fn long_retention(now: DateTime<Utc>) -> DateTime<Utc> {
    now + Duration::days(7)
}

async fn write_once(store: &dyn WormStore, now: DateTime<Utc>) {
    let key = key("suite/once/00000000000000000001.json");
    let bytes = b"{\"seq\":1}".to_vec();
    let until = long_retention(now);

    let first = store.put_once(&key, bytes.clone(), until).await.unwrap();
    assert_eq!(first, PutOutcome::Stored, "write_once: first put");
    let info = store
        .head(&key)
        .await
        .unwrap()
        .expect("write_once: head after put");
    assert_eq!(info.len, bytes.len() as u64, "write_once: len");
    assert_eq!(info.sha256, ContentHash::of(&bytes), "write_once: sha256");
    assert_eq!(info.retain_until, until, "write_once: retain_until");
    assert_eq!(info.legal_hold, LegalHold::Off, "write_once: legal hold");
    assert_eq!(store.get(&key).await.unwrap(), bytes, "write_once: get");

    let again = store.put_once(&key, bytes.clone(), until).await.unwrap();
    assert_eq!(
        again,
        PutOutcome::AlreadyStored,
        "write_once: identical re-put"
    );
    let later = store
        .put_once(&key, bytes.clone(), until + Duration::days(1))
        .await
        .unwrap();
    assert_eq!(
        later,
        PutOutcome::AlreadyStored,
        "write_once: re-put, other date"
    );

    match store.put_once(&key, b"{\"seq\":2}".to_vec(), until).await {
        Err(Error::Conflict { existing, .. }) => {
            assert_eq!(
                existing,
                ContentHash::of(&bytes),
                "write_once: conflict hash"
            );
        }
        other => panic!("write_once: other bytes: expected Conflict, got {other:?}"),
    }
    assert_eq!(
        store.get(&key).await.unwrap(),
        bytes,
        "write_once: bytes unchanged after conflict"
    );
    assert_eq!(
        store.head(&key).await.unwrap(),
        Some(info),
        "write_once: metadata unchanged after re-puts"
    );

    match store.delete(&key, now).await {
        Err(Error::Retained {
            retain_until,
            legal_hold: false,
            ..
        }) => assert_eq!(retain_until, until, "write_once: refusal names the date"),
        other => panic!("write_once: delete before retain_until: expected Retained, got {other:?}"),
    }
    assert!(
        store.head(&key).await.unwrap().is_some(),
        "write_once: object survives a refused delete"
    );
}

fn item(text: &str, bytes: &[u8], retain_until: DateTime<Utc>) -> PutItem {
    PutItem {
        key: key(text),
        bytes: bytes.to_vec(),
        retain_until,
    }
}

/// Every `Ok` outcome of a batch is readable, byte for byte, with the
/// retention it was given (or kept, for a re-put).
async fn assert_acknowledged(store: &dyn WormStore, items: &[PutItem], step: &str) {
    for item in items {
        let info = store
            .head(&item.key)
            .await
            .unwrap()
            .unwrap_or_else(|| panic!("{step}: {} acknowledged but absent", item.key));
        assert_eq!(
            info.sha256,
            ContentHash::of(&item.bytes),
            "{step}: {}",
            item.key
        );
        assert_eq!(
            store.get(&item.key).await.unwrap(),
            item.bytes,
            "{step}: {} bytes",
            item.key
        );
    }
}

async fn batch_writes(store: &dyn WormStore, now: DateTime<Utc>) {
    let until = long_retention(now);
    assert!(
        store.put_many(Vec::new()).await.unwrap().is_empty(),
        "batch: an empty batch"
    );

    // New keys, one of them twice with the same bytes.
    let first = vec![
        item("suite/batch/a.json", b"a", until),
        item("suite/batch/b.json", b"b", until),
        item("suite/batch/a.json", b"a", until),
        item("suite/batch/c.json", b"c", until + Duration::days(1)),
    ];
    let outcomes = store.put_many(first.clone()).await.unwrap();
    let outcomes: Vec<PutOutcome> = outcomes
        .into_iter()
        .map(|outcome| outcome.expect("batch: first batch"))
        .collect();
    assert_eq!(
        outcomes,
        [
            PutOutcome::Stored,
            PutOutcome::Stored,
            PutOutcome::AlreadyStored,
            PutOutcome::Stored
        ],
        "batch: new keys, a repeated key"
    );
    assert_acknowledged(store, &first, "batch: first batch").await;
    let c = store
        .head(&key("suite/batch/c.json"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        c.retain_until,
        until + Duration::days(1),
        "batch: each item keeps its own retention"
    );

    // Re-puts and refusals mixed with new keys: every item has its own
    // outcome, and the refusals change nothing.
    let second = vec![
        item("suite/batch/a.json", b"a", until + Duration::days(3)),
        item("suite/batch/b.json", b"not b", until),
        item("suite/batch/d.json", b"d", until),
        item("suite/batch/d.json", b"not d", until),
        item("suite/batch/e.json", b"e", until),
    ];
    let outcomes = store.put_many(second.clone()).await.unwrap();
    assert_eq!(outcomes.len(), second.len(), "batch: one outcome per item");
    let mut outcomes = outcomes.into_iter();
    assert_eq!(
        outcomes.next().unwrap().unwrap(),
        PutOutcome::AlreadyStored,
        "batch: identical re-put"
    );
    match outcomes.next().unwrap() {
        Err(Error::Conflict { existing, .. }) => {
            assert_eq!(existing, ContentHash::of(b"b"), "batch: conflict hash");
        }
        other => panic!("batch: other bytes: expected Conflict, got {other:?}"),
    }
    assert_eq!(
        outcomes.next().unwrap().unwrap(),
        PutOutcome::Stored,
        "batch: a new key beside a refusal"
    );
    assert!(
        matches!(outcomes.next().unwrap(), Err(Error::Conflict { .. })),
        "batch: a repeated key with other bytes"
    );
    assert_eq!(
        outcomes.next().unwrap().unwrap(),
        PutOutcome::Stored,
        "batch: the item after the refusals"
    );
    let kept = [
        item("suite/batch/a.json", b"a", until),
        item("suite/batch/b.json", b"b", until),
        item("suite/batch/d.json", b"d", until),
        item("suite/batch/e.json", b"e", until),
    ];
    assert_acknowledged(store, &kept, "batch: after refusals").await;
    let a = store
        .head(&key("suite/batch/a.json"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(a.retain_until, until, "batch: a re-put keeps the retention");

    // More items than a backend keeps in flight at once.
    let many: Vec<PutItem> = (0..100)
        .map(|seq| {
            let text = format!("suite/batch/many/{seq:020}.json");
            let bytes = text.clone().into_bytes();
            item(&text, &bytes, until)
        })
        .collect();
    let outcomes = store.put_many(many.clone()).await.unwrap();
    for (index, outcome) in outcomes.into_iter().enumerate() {
        assert_eq!(
            outcome.unwrap(),
            PutOutcome::Stored,
            "batch: item {index} of 100"
        );
    }
    assert_acknowledged(store, &many, "batch: 100 items").await;
    let prefix = KeyPrefix::parse("suite/batch/many/").unwrap();
    assert_eq!(
        store.list(&prefix, None, 1000).await.unwrap().len(),
        100,
        "batch: 100 listed"
    );
    match store.delete(&key("suite/batch/d.json"), now).await {
        Err(Error::Retained { .. }) => {}
        other => panic!("batch: delete before retain_until: expected Retained, got {other:?}"),
    }
}

async fn missing_objects(store: &dyn WormStore, now: DateTime<Utc>) {
    let key = key("suite/missing/nothing.json");
    assert_eq!(store.head(&key).await.unwrap(), None, "missing: head");
    assert!(
        matches!(store.get(&key).await, Err(Error::NotFound { .. })),
        "missing: get"
    );
    assert!(
        matches!(store.delete(&key, now).await, Err(Error::NotFound { .. })),
        "missing: delete"
    );
    assert!(
        matches!(
            store.set_legal_hold(&key, LegalHold::On).await,
            Err(Error::NotFound { .. })
        ),
        "missing: legal hold"
    );
    assert!(
        matches!(
            store.extend_retention(&key, long_retention(now)).await,
            Err(Error::NotFound { .. })
        ),
        "missing: extend retention"
    );
}

async fn retention_only_grows(store: &dyn WormStore, now: DateTime<Utc>) {
    let key = key("suite/retention/object.json");
    let until = long_retention(now);
    let stored = store
        .put_once(&key, b"retained".to_vec(), until)
        .await
        .unwrap();
    assert_eq!(stored, PutOutcome::Stored, "retention: put");

    let earlier = until - Duration::days(1);
    match store.extend_retention(&key, earlier).await {
        Err(Error::ShortenRefused {
            current, requested, ..
        }) => {
            assert_eq!(
                (current, requested),
                (until, earlier),
                "retention: refusal dates"
            );
        }
        other => panic!("retention: shortening: expected ShortenRefused, got {other:?}"),
    }
    let info = store.head(&key).await.unwrap().unwrap();
    assert_eq!(
        info.retain_until, until,
        "retention: unchanged after refusal"
    );

    store.extend_retention(&key, until).await.unwrap();
    let info = store.head(&key).await.unwrap().unwrap();
    assert_eq!(info.retain_until, until, "retention: same date is a no-op");

    let extended = until + Duration::days(30);
    store.extend_retention(&key, extended).await.unwrap();
    let info = store.head(&key).await.unwrap().unwrap();
    assert_eq!(info.retain_until, extended, "retention: extended");
    assert!(
        matches!(
            store.delete(&key, until + Duration::days(1)).await,
            Err(Error::Retained { .. })
        ),
        "retention: the extended date is enforced"
    );
}

async fn short_lived(store: &dyn WormStore, text: &str, until: DateTime<Utc>) -> ObjectKey {
    let key = key(text);
    let stored = store
        .put_once(&key, text.as_bytes().to_vec(), until)
        .await
        .unwrap();
    assert_eq!(stored, PutOutcome::Stored, "expiry: put {text}");
    key
}

async fn listing(store: &dyn WormStore, now: DateTime<Utc>) {
    let until = long_retention(now);
    // `-` and `.` sort below `/`, so `a-b` and `a.x` come before `a/…`.
    let mut expected: Vec<String> = ["a/c", "a/d", "a-b", "a.x", "b", "a/deep/e"]
        .iter()
        .map(|name| format!("suite/list/{name}"))
        .chain((0..5).map(|seq| format!("suite/list/seq/{seq:020}.json")))
        .collect();
    for text in &expected {
        let stored = store
            .put_once(&key(text), text.as_bytes().to_vec(), until)
            .await
            .unwrap();
        assert_eq!(stored, PutOutcome::Stored, "listing: put {text}");
    }
    expected.sort();

    let all = KeyPrefix::parse("suite/list/").unwrap();
    let listed = names(&store.list(&all, None, 1000).await.unwrap());
    assert_eq!(listed, expected, "listing: one page, byte order");

    let mut paged = Vec::new();
    let mut after: Option<ObjectKey> = None;
    loop {
        let page = store.list(&all, after.as_ref(), 2).await.unwrap();
        assert!(page.len() <= 2, "listing: page within limit");
        paged.extend(names(&page));
        match page.last() {
            Some(last) if page.len() == 2 => after = Some(last.clone()),
            _ => break,
        }
    }
    assert_eq!(paged, expected, "listing: pages of two");

    let partial = KeyPrefix::parse("suite/list/a").unwrap();
    let listed = names(&store.list(&partial, None, 1000).await.unwrap());
    let wanted: Vec<String> = expected
        .iter()
        .filter(|name| name.starts_with("suite/list/a"))
        .cloned()
        .collect();
    assert_eq!(listed, wanted, "listing: partial-segment prefix");

    let after = key("suite/list/a/d");
    let listed = names(&store.list(&all, Some(&after), 3).await.unwrap());
    assert_eq!(
        listed,
        [
            "suite/list/a/deep/e",
            "suite/list/b",
            "suite/list/seq/00000000000000000000.json"
        ],
        "listing: after a key, into a sibling directory"
    );

    assert!(
        store.list(&all, None, 0).await.unwrap().is_empty(),
        "listing: limit 0"
    );
    let none = KeyPrefix::parse("suite/list/zz").unwrap();
    assert!(
        store.list(&none, None, 10).await.unwrap().is_empty(),
        "listing: prefix matching nothing"
    );
}

fn names(keys: &[ObjectKey]) -> Vec<String> {
    keys.iter().map(ToString::to_string).collect()
}

async fn expiry_and_legal_hold(
    store: &dyn WormStore,
    held: &ObjectKey,
    free: &ObjectKey,
    until: DateTime<Utc>,
    now: DateTime<Utc>,
) {
    store.set_legal_hold(held, LegalHold::On).await.unwrap();
    let info = store.head(held).await.unwrap().unwrap();
    assert_eq!(info.legal_hold, LegalHold::On, "legal hold: set");
    assert!(
        matches!(store.delete(free, now).await, Err(Error::Retained { .. })),
        "expiry: delete before retain_until"
    );

    // Let the short retention lapse on the backend's own clock.
    let wait = (until - now + Duration::seconds(1)).to_std().unwrap();
    tokio::time::sleep(wait).await;
    let after = until + Duration::seconds(1);

    match store.delete(held, after).await {
        Err(Error::Retained {
            legal_hold: true, ..
        }) => {}
        other => panic!("legal hold: delete after retain_until: expected Retained, got {other:?}"),
    }
    assert!(
        store.head(held).await.unwrap().is_some(),
        "legal hold: object survives"
    );
    store.set_legal_hold(held, LegalHold::Off).await.unwrap();
    let info = store.head(held).await.unwrap().unwrap();
    assert_eq!(info.legal_hold, LegalHold::Off, "legal hold: released");

    for key in [held, free] {
        store.delete(key, after).await.unwrap();
        assert_eq!(store.head(key).await.unwrap(), None, "expiry: {key} gone");
        assert!(
            matches!(store.get(key).await, Err(Error::NotFound { .. })),
            "expiry: {key} unreadable"
        );
    }
}
