//! Integration tests of osiris-tls: certificate files on disk, and HTTPS
//! round trips with reqwest, curl and raw sockets.

mod https;
mod material;
mod support;
