//! The server under test and its clients come from `osiris-testkit`, which
//! the appliance's tests share: a server on 127.0.0.1:0 over a temporary
//! SQLite file and a manual clock, and a small JSON client for it.

pub(crate) use osiris_testkit::{Api, TestServer, config_for, http_client, settings, tenant, user};
