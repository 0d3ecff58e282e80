#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
//! Envelope building and reply parsing, each next to a baseline measured in
//! the same run: `format!` string templating for building (what many WinRM
//! clients do) and a bare substring scan for parsing (no XML validation).
//! Report the ratios, not the absolute times.

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use winrm::envelope::{Action, Reply, Request, RequestBody, RequestHeader};

fn receive_request() -> Request {
    Request {
        header: RequestHeader {
            to: "http://srv01:5985/wsman".into(),
            message_id: "uuid:7D1C0C2E-5A0F-4B2E-9A57-3C1F6B0F0A11".into(),
            operation_timeout: Duration::from_secs(20),
            max_envelope_size: 153_600,
            shell_id: Some("2B3E1F7A-9C4D-4E21-8F3A-1D5C7B9E0A42".into()),
        },
        body: RequestBody::Receive {
            command_id: "9A8B7C6D-5E4F-4A3B-9C2D-1E0F9A8B7C6D".into(),
        },
    }
}

fn format_baseline(to: &str, message_id: &str, shell_id: &str, command_id: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="utf-8"?><s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" xmlns:p="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd" xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell" xmlns:x="http://schemas.xmlsoap.org/ws/2004/09/transfer"><s:Header><a:To>{to}</a:To><a:ReplyTo><a:Address s:mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/08/addressing/role/anonymous</a:Address></a:ReplyTo><w:MaxEnvelopeSize s:mustUnderstand="true">153600</w:MaxEnvelopeSize><a:MessageID>{message_id}</a:MessageID><w:Locale xml:lang="en-US" s:mustUnderstand="false"/><p:DataLocale xml:lang="en-US" s:mustUnderstand="false"/><w:OperationTimeout>PT20S</w:OperationTimeout><w:ResourceURI s:mustUnderstand="true">http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI><a:Action s:mustUnderstand="true">http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive</a:Action><w:SelectorSet><w:Selector Name="ShellId">{shell_id}</w:Selector></w:SelectorSet></s:Header><s:Body><rsp:Receive><rsp:DesiredStream CommandId="{command_id}">stdout stderr</rsp:DesiredStream></rsp:Receive></s:Body></s:Envelope>"#
    )
}

fn substring_baseline(reply: &str) -> (usize, Option<&str>) {
    let streams = reply.matches("<rsp:Stream ").count();
    let exit = reply
        .split("<rsp:ExitCode>")
        .nth(1)
        .and_then(|rest| rest.split('<').next());
    (streams, exit)
}

fn bench(c: &mut Criterion) {
    let request = receive_request();
    let golden = request.to_xml().unwrap();
    let h = &request.header;
    assert_eq!(
        format_baseline(
            &h.to,
            &h.message_id,
            "2B3E1F7A-9C4D-4E21-8F3A-1D5C7B9E0A42",
            "9A8B7C6D-5E4F-4A3B-9C2D-1E0F9A8B7C6D"
        )
        .as_bytes(),
        golden.as_slice(),
        "the baseline must produce the same bytes"
    );
    let mut build = c.benchmark_group("build_receive_request");
    build.bench_function("baseline_format", |b| {
        b.iter(|| {
            format_baseline(
                black_box(&h.to),
                black_box(&h.message_id),
                "2B3E1F7A-9C4D-4E21-8F3A-1D5C7B9E0A42",
                "9A8B7C6D-5E4F-4A3B-9C2D-1E0F9A8B7C6D",
            )
        })
    });
    build.bench_function("quick_xml_writer", |b| {
        b.iter(|| black_box(&request).to_xml().unwrap())
    });
    build.finish();

    let reply = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/windows_receive_response.xml"
    ))
    .unwrap();
    let reply_text = String::from_utf8(reply.clone()).unwrap();
    let mut parse = c.benchmark_group("parse_receive_reply");
    parse.bench_function("baseline_substring_scan", |b| {
        b.iter(|| substring_baseline(black_box(&reply_text)))
    });
    parse.bench_function("ns_reader_typed", |b| {
        b.iter(|| Reply::parse(black_box(&reply), Action::Receive).unwrap())
    });
    parse.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
