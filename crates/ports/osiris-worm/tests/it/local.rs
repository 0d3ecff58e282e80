//! The local write-once directory store: the conformance suite, on-disk
//! protections and the startup integrity check.

use std::os::unix::fs::PermissionsExt;

use chrono::{DateTime, Duration, TimeZone, Utc};
use osiris_worm::{ContentHash, LocalWormStore, ObjectKey, PutOutcome, WormStore, testkit};

fn store() -> (tempfile::TempDir, LocalWormStore) {
    let dir = tempfile::tempdir().unwrap();
    let store = LocalWormStore::open(dir.path().join("worm")).unwrap();
    (dir, store)
}

fn key(text: &str) -> ObjectKey {
    ObjectKey::parse(text).unwrap()
}

fn at() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 5, 9, 0, 0).single().unwrap()
}

#[tokio::test]
async fn local_store_passes_the_conformance_suite() {
    let (_dir, store) = store();
    #[expect(
        clippy::disallowed_methods,
        reason = "the suite waits on the real clock for a retention period to lapse"
    )]
    let now = Utc::now();
    testkit::run_suite(&store, now).await;
}

#[tokio::test]
async fn stored_objects_and_sidecars_are_read_only_files() {
    let (_dir, store) = store();
    let key = key("evidence/site/app/00000000000000000001.json");
    let outcome = store
        .put_once(&key, b"sealed".to_vec(), at())
        .await
        .unwrap();
    assert_eq!(outcome, PutOutcome::Stored);

    let object = store.object_path(&key);
    let sidecar = store.root().join("meta").join(key.as_str());
    for path in [&object, &sidecar] {
        let mode = std::fs::metadata(path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o444, "{} is not read-only", path.display());
    }
    let leftovers: Vec<_> = std::fs::read_dir(object.parent().unwrap())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .filter(|name| name.to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[tokio::test]
async fn temporary_files_from_a_crashed_write_are_invisible() {
    let (_dir, store) = store();
    let key = key("evidence/a.json");
    let _ = store.put_once(&key, b"a".to_vec(), at()).await.unwrap();
    // What a crash between staging and publishing leaves behind.
    let dir = store.object_path(&key).parent().unwrap().to_path_buf();
    std::fs::write(dir.join(".tmp-crashed"), b"half").unwrap();

    let prefix = osiris_worm::KeyPrefix::parse("evidence/").unwrap();
    let listed = store.list(&prefix, None, 10).await.unwrap();
    assert_eq!(listed, vec![key]);
}

#[tokio::test]
async fn an_orphan_sidecar_from_a_crash_does_not_block_the_retry() {
    let (_dir, store) = store();
    let key = key("evidence/b.json");
    let sidecar = store.root().join("meta/evidence/b.json");
    std::fs::create_dir_all(sidecar.parent().unwrap()).unwrap();
    std::fs::write(&sidecar, b"{\"garbage\":true}").unwrap();

    assert_eq!(store.head(&key).await.unwrap(), None);
    let outcome = store.put_once(&key, b"b".to_vec(), at()).await.unwrap();
    assert_eq!(outcome, PutOutcome::Stored);
    assert_eq!(store.get(&key).await.unwrap(), b"b");
}

#[tokio::test]
async fn bytes_altered_behind_the_store_are_reported_not_served() {
    let (_dir, store) = store();
    let kept = key("evidence/kept.json");
    let altered = key("evidence/altered.json");
    let removed = key("evidence/removed.json");
    for key in [&kept, &altered, &removed] {
        let _ = store
            .put_once(
                key,
                key.as_str().as_bytes().to_vec(),
                at() + Duration::days(1),
            )
            .await
            .unwrap();
    }
    let path = store.object_path(&altered);
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
    std::fs::write(&path, b"evidence/altered.jsoX").unwrap();
    std::fs::remove_file(store.object_path(&removed)).unwrap();

    assert!(matches!(
        store.get(&altered).await,
        Err(osiris_worm::Error::Corrupt { .. })
    ));
    let expected = [&kept, &altered, &removed]
        .map(|key| (key.clone(), ContentHash::of(key.as_str().as_bytes())));
    let report = store.verify_intact(expected).unwrap();
    assert_eq!(report.checked, 3);
    assert_eq!(report.missing, vec![removed]);
    assert_eq!(report.altered, vec![altered]);
    assert!(!report.is_intact());
}

#[tokio::test]
async fn an_untouched_store_verifies_intact_across_reopening() {
    let (dir, store) = store();
    let key = key("evidence/c.json");
    let _ = store.put_once(&key, b"c".to_vec(), at()).await.unwrap();
    drop(store);

    let reopened = LocalWormStore::open(dir.path().join("worm")).unwrap();
    let report = reopened
        .verify_intact([(key.clone(), ContentHash::of(b"c"))])
        .unwrap();
    assert!(report.is_intact(), "{report:?}");
    // A sidecar that no longer matches counts as altered.
    let report = reopened
        .verify_intact([(key, ContentHash::of(b"d"))])
        .unwrap();
    assert_eq!(report.altered.len(), 1);
}

#[tokio::test]
async fn a_key_with_a_file_where_a_directory_is_needed_fails_cleanly() {
    let (_dir, store) = store();
    let _ = store
        .put_once(&key("x/y"), b"1".to_vec(), at())
        .await
        .unwrap();
    assert!(
        store
            .put_once(&key("x/y/z"), b"2".to_vec(), at())
            .await
            .is_err()
    );
    assert_eq!(store.get(&key("x/y")).await.unwrap(), b"1");
    // A directory is not an object: `x` holds `x/y`, and reads as absent.
    assert_eq!(store.head(&key("x")).await.unwrap(), None);
}

fn leftovers(dir: &std::path::Path, found: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            leftovers(&path, found);
        } else if path
            .file_name()
            .is_some_and(|name| name.to_string_lossy().starts_with(".tmp-"))
        {
            found.push(path);
        }
    }
}

#[tokio::test]
async fn a_batch_reports_each_failure_and_keeps_the_rest_durable() {
    let (dir, store) = store();
    let _ = store
        .put_once(&key("x/y"), b"1".to_vec(), at())
        .await
        .unwrap();
    let item = |text: &str, bytes: &[u8]| osiris_worm::PutItem {
        key: key(text),
        bytes: bytes.to_vec(),
        retain_until: at(),
    };
    let outcomes = store
        .put_many(vec![
            item("batch/one.json", b"one"),
            // A file stands where this key needs a directory.
            item("x/y/z", b"2"),
            item("batch/two.json", b"two"),
            item("x/y", b"other"),
        ])
        .await
        .unwrap();
    assert_eq!(outcomes.len(), 4);
    assert_eq!(*outcomes[0].as_ref().unwrap(), PutOutcome::Stored);
    assert!(
        matches!(outcomes[1], Err(osiris_worm::Error::Backend { .. })),
        "{:?}",
        outcomes[1]
    );
    assert_eq!(*outcomes[2].as_ref().unwrap(), PutOutcome::Stored);
    assert!(matches!(
        outcomes[3],
        Err(osiris_worm::Error::Conflict { .. })
    ));

    let mut found = Vec::new();
    leftovers(store.root(), &mut found);
    assert!(found.is_empty(), "temporary files left: {found:?}");
    for text in ["batch/one.json", "batch/two.json"] {
        let path = store.object_path(&key(text));
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o444, "{}", path.display());
    }

    // What a new process sees: both objects, their sidecars intact.
    drop(store);
    let reopened = LocalWormStore::open(dir.path().join("worm")).unwrap();
    let report = reopened
        .verify_intact([
            (key("batch/one.json"), ContentHash::of(b"one")),
            (key("batch/two.json"), ContentHash::of(b"two")),
            (key("x/y"), ContentHash::of(b"1")),
        ])
        .unwrap();
    assert!(report.is_intact(), "{report:?}");
    assert!(!matches!(reopened.head(&key("x/y/z")).await, Ok(Some(_))));
}
