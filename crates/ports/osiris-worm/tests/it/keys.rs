//! Key parsing never panics, and what it accepts is safe on disk and in S3.

use osiris_worm::{KeyPrefix, ObjectKey};
use proptest::prelude::*;

proptest! {
    #[test]
    fn key_parsing_never_panics(text in any::<String>()) {
        let _ = ObjectKey::parse(&text);
        let _ = KeyPrefix::parse(&text);
    }

    #[test]
    fn accepted_keys_are_relative_and_clean(text in "[a-z./_\\-=\\x00\\n ]{0,40}") {
        if let Ok(key) = ObjectKey::parse(&text) {
            prop_assert!(!key.as_str().starts_with('/'));
            prop_assert!(key.segments().all(|s| !s.is_empty() && !s.starts_with('.')));
            prop_assert!(!key.as_str().chars().any(char::is_control));
            prop_assert_eq!(key.to_string(), text);
        }
    }
}
