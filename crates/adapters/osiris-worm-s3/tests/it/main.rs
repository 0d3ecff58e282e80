//! The one integration-test binary of osiris-worm-s3. Every test runs
//! against the S3 server named by `OSIRIS_TEST_S3_URL` (moto in CI), each
//! in a fresh bucket with Object Lock enabled; a missing variable fails.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a failed expectation must abort the test"
)]

mod conformance;
mod lock;
mod no_shortening;
mod support;
