//! The one integration-test binary of osiris-worm.

mod keys;
mod local;
