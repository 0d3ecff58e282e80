//! The one integration-test binary of osiris-worm-s3. Every test runs
//! against the S3 server named by `OSIRIS_TEST_S3_URL` (moto in CI), each
//! in a fresh bucket with Object Lock enabled; a missing variable fails.

mod conformance;
mod lock;
mod no_shortening;
mod support;
