//! The public surface: tokens, configuration choices, key files, streaming
//! and the CLI entry point.

use std::io::Write;

use osiris_scrub::{
    CliOptions, Error, Family, IpPolicy, ScrubKey, Scrubber, ZipPolicy, create_key_file,
    load_key_file, run_phi_scrub,
};

use crate::{corpus_config, mask_tokens, scrubber, test_key};

#[test]
fn equal_values_share_a_token_and_different_values_do_not() {
    let s = scrubber();
    let out = s
        .scrub_text("SSN: 123-45-6789 again SSN 123 45 6789 other SSN: 219-09-9999")
        .into_inner();
    let tokens: Vec<&str> = out.matches("[PHI:SSN:").collect();
    assert_eq!(tokens.len(), 3, "{out}");
    let parts: Vec<&str> = out.split("[PHI:SSN:").skip(1).map(|p| &p[..17]).collect();
    assert_eq!(parts[0], parts[1], "{out}");
    assert_ne!(parts[0], parts[2], "{out}");
}

#[test]
fn a_token_carries_the_key_id_so_rotation_is_visible() {
    let key = test_key();
    let out = scrubber()
        .scrub_text("mail jane.roe@example.com")
        .into_inner();
    assert!(
        out.contains(&format!("[PHI:EMAIL:{}:", key.key_id())),
        "{out}"
    );
    let other = Scrubber::new(&ScrubKey::from_bytes([1; 32]), &corpus_config()).unwrap();
    let out2 = other.scrub_text("mail jane.roe@example.com").into_inner();
    assert_ne!(out, out2);
}

#[test]
fn the_report_counts_redactions_per_family() {
    let scrubbed = scrubber()
        .scrub_text("Patient: Ann Lee DOB: 01/02/1950 from 73.162.44.201 and 73.162.44.202");
    let report = scrubbed.report();
    assert_eq!(report.count(Family::Name), 1);
    assert_eq!(report.count(Family::Date), 1);
    assert_eq!(report.count(Family::Ip), 2);
    assert_eq!(report.total(), 4);
    assert_eq!(report.to_string(), "NAME 1\nDATE 1\nIP 2\nTOTAL 4");
    assert_eq!(
        serde_json::to_string(report).unwrap(),
        r#"{"NAME":1,"DATE":1,"IP":2}"#
    );
}

#[test]
fn private_and_loopback_addresses_go_when_the_site_keeps_none() {
    let mut config = corpus_config();
    config.ip = IpPolicy {
        keep_loopback: false,
        keep_private: false,
        keep_link_local: false,
        inventory: vec!["10.20.1.5".parse().unwrap()],
    };
    let s = Scrubber::new(&test_key(), &config).unwrap();
    let out = mask_tokens(
        &s.scrub_text("from 10.20.1.15 to 10.20.1.5 via 127.0.0.1 and ::1")
            .into_inner(),
    );
    assert_eq!(out, "from {{IP}} to 10.20.1.5 via {{IP}} and {{IP}}");
}

#[test]
fn allowlisted_terms_survive_verbatim() {
    let mut config = corpus_config();
    config.allowlist = vec![
        "svc-backup@clinic-internal.com".to_owned(),
        "Patient: Portal".to_owned(),
    ];
    let s = Scrubber::new(&test_key(), &config).unwrap();
    let text = "mail from SVC-BACKUP@clinic-internal.com; Patient: Portal; Patient: Ann Lee";
    let out = mask_tokens(&s.scrub_text(text).into_inner());
    assert_eq!(
        out,
        "mail from SVC-BACKUP@clinic-internal.com; Patient: Portal; Patient: {{NAME}}"
    );
}

#[test]
fn site_hostnames_and_service_accounts_in_the_allowlist_are_kept() {
    let mut config = corpus_config();
    config.allowlist = vec![
        "Backup Service".to_owned(),
        "73.162.44.201.gw.clinic.example".to_owned(),
        "ehr-archive-node-E1234567".to_owned(),
    ];
    let s = Scrubber::new(&test_key(), &config).unwrap();
    // A candidate inside a term is kept wherever it lies in the term (the
    // site MRN pattern matches at the end of the last host name), the same
    // value outside any term is not, and terms compare case-insensitively.
    let text = "Caller: Backup Service; Caller: Ann Lee; \
                ping 73.162.44.201.GW.clinic.example ok; ping 73.162.44.201 ok; \
                sync EHR-ARCHIVE-NODE-E1234567 done; chart E1234567";
    let out = mask_tokens(&s.scrub_text(text).into_inner());
    assert_eq!(
        out,
        "Caller: Backup Service; Caller: {{NAME}}; \
         ping 73.162.44.201.GW.clinic.example ok; ping {{IP}} ok; \
         sync EHR-ARCHIVE-NODE-E1234567 done; chart {{MRN}}"
    );
}

#[test]
fn kept_email_domains_and_url_hosts_stay() {
    let mut config = corpus_config();
    config.keep_email_domains = vec!["clinic.example".to_owned()];
    config.keep_url_hosts = vec!["vendor.example".to_owned()];
    let s = Scrubber::new(&test_key(), &config).unwrap();
    let text = "alerts@mail.clinic.example https://dl.vendor.example/get?id=123456 https://portal.example/x?id=123456";
    let out = mask_tokens(&s.scrub_text(text).into_inner());
    assert_eq!(
        out,
        "alerts@mail.clinic.example https://dl.vendor.example/get?id=123456 https://portal.example/x{{URL}}"
    );
}

#[test]
fn the_three_digit_zip_rule_keeps_populous_areas_and_zeroes_small_ones() {
    let mut config = corpus_config();
    config.zip = ZipPolicy::KeepThreeDigits;
    let s = Scrubber::new(&test_key(), &config).unwrap();
    let out = mask_tokens(
        &s.scrub_text("Springfield, IL 62704; Zip: 03601; Zip: 82301-1234")
            .into_inner(),
    );
    assert_eq!(
        out,
        "Springfield, IL 627{{ZIP}}; Zip: 000{{ZIP}}; Zip: 000{{ZIP}}"
    );
    let again = s.scrub_text(&s.scrub_text("IL 62704").into_inner());
    assert_eq!(mask_tokens(again.as_str()), "IL 627{{ZIP}}");
    assert_eq!(again.report().total(), 0);
}

#[test]
fn patient_document_roots_redact_the_next_path_segment() {
    let mut config = corpus_config();
    config.patient_document_roots = vec![r"\\srv\scans\".to_owned()];
    let s = Scrubber::new(&test_key(), &config).unwrap();
    let out = mask_tokens(
        &s.scrub_text(r"opened \\SRV\scans\Doe_John_1980\intake.pdf")
            .into_inner(),
    );
    assert_eq!(out, r"opened \\SRV\scans\{{NAME}}\intake.pdf");
}

#[test]
fn a_site_pattern_that_does_not_compile_is_named() {
    let mut config = corpus_config();
    config.other_patterns = vec![r"ACC\d+".to_owned(), r"(unclosed".to_owned()];
    let err = Scrubber::new(&test_key(), &config).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Pattern {
                field: "other_patterns",
                index: 1,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        err.to_string(),
        "scrub config field `other_patterns`: pattern 1 does not compile"
    );
}

#[test]
fn config_is_read_from_toml_like_data_with_every_field_explicit() {
    let json = r#"{"ip":{"keep_loopback":true,"keep_private":true,"keep_link_local":false,"inventory":["203.0.113.7"]},
        "zip":"keep_three_digits","allowlist":["DC01"],"keep_email_domains":[],"keep_url_hosts":[],
        "patient_document_roots":[],"mrn_patterns":[],"other_patterns":[]}"#;
    let config: osiris_scrub::ScrubConfig = serde_json::from_str(json).unwrap();
    assert_eq!(config.zip, ZipPolicy::KeepThreeDigits);
    let missing = r#"{"ip":{"keep_loopback":true,"keep_private":true,"keep_link_local":false,"inventory":[]}}"#;
    assert!(serde_json::from_str::<osiris_scrub::ScrubConfig>(missing).is_err());
}

#[test]
fn a_key_file_round_trips_and_a_group_readable_one_is_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("scrub.key");
    let key = create_key_file(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    assert_eq!(load_key_file(&path).unwrap().key_id(), key.key_id());
    assert!(
        matches!(create_key_file(&path), Err(Error::KeyFile { .. })),
        "never overwrites"
    );

    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640)).unwrap();
    let err = load_key_file(&path).unwrap_err();
    assert!(
        matches!(err, Error::KeyFilePermissions { mode: 0o640, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("chmod 600"), "{err}");

    let bad = dir.path().join("bad.key");
    let mut file = std::fs::File::create(&bad).unwrap();
    file.write_all(b"not a key").unwrap();
    std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o600)).unwrap();
    assert!(matches!(load_key_file(&bad), Err(Error::KeyFormat(_))));
}

#[test]
fn the_cli_scrubs_text_from_stdin_and_reports_to_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("site.key");
    create_key_file(&path).unwrap();
    let options = CliOptions {
        key_file: Some(path.clone()),
        json: false,
        report: true,
    };
    let input = "Patient: Ann Lee SSN 123-45-6789\nok line\n";
    let (mut out, mut err) = (Vec::new(), Vec::new());
    let report = run_phi_scrub(
        &options,
        &corpus_config(),
        input.as_bytes(),
        &mut out,
        &mut err,
    )
    .unwrap();
    assert_eq!(
        mask_tokens(&String::from_utf8(out.clone()).unwrap()),
        "Patient: {{NAME}} SSN {{SSN}}\nok line\n"
    );
    assert_eq!(report.total(), 2);
    assert_eq!(String::from_utf8(err).unwrap(), "NAME 1\nSSN 1\nTOTAL 2\n");
    // Same key file, same tokens.
    let (mut out2, mut err2) = (Vec::new(), Vec::new());
    run_phi_scrub(
        &options,
        &corpus_config(),
        input.as_bytes(),
        &mut out2,
        &mut err2,
    )
    .unwrap();
    assert_eq!(out, out2);
}

#[test]
fn the_cli_json_mode_keeps_structure_and_rejects_bad_json() {
    let options = CliOptions {
        key_file: None,
        json: true,
        report: false,
    };
    let input =
        r#"{"host":"DC01","patient_name":"Ann Lee","events":[{"ip":"73.162.44.201","port":443}]}"#;
    let (mut out, mut err) = (Vec::new(), Vec::new());
    run_phi_scrub(
        &options,
        &corpus_config(),
        input.as_bytes(),
        &mut out,
        &mut err,
    )
    .unwrap();
    let masked = mask_tokens(&String::from_utf8(out).unwrap());
    assert_eq!(
        masked,
        "{\"events\":[{\"ip\":\"{{IP}}\",\"port\":443}],\"host\":\"DC01\",\"patient_name\":\"{{NAME}}\"}\n"
    );
    assert!(String::from_utf8(err).unwrap().contains("one-time key"));

    let (mut out, mut err) = (Vec::new(), Vec::new());
    let bad = run_phi_scrub(
        &options,
        &corpus_config(),
        &b"{\"a\":"[..],
        &mut out,
        &mut err,
    );
    assert!(matches!(bad, Err(Error::Json(_))));
}

#[test]
fn streaming_equals_in_memory_scrubbing_across_block_boundaries() {
    let s = scrubber();
    let line = "2024-03-14 INFO Patient: Ann Lee from 73.162.44.201 card 4111 1111 1111 1111 ok\n";
    let input = line.repeat(2000);
    let mut out = Vec::new();
    let report = s.scrub_stream(input.as_bytes(), &mut out).unwrap();
    let in_memory = s.scrub_text(&input);
    assert_eq!(String::from_utf8(out).unwrap(), in_memory.as_str());
    assert_eq!(report, in_memory.report().clone());
    assert_eq!(report.total(), 6000);
}

#[test]
fn a_huge_line_without_newlines_streams_in_bounded_pieces() {
    let s = scrubber();
    let chunk = "word SSN 123-45-6789 ";
    let input = chunk.repeat(osiris_scrub::MAX_LINE * 3 / chunk.len());
    let mut out = Vec::new();
    let report = s.scrub_stream(input.as_bytes(), &mut out).unwrap();
    let out = String::from_utf8(out).unwrap();
    assert!(!out.contains("123-45-6789"));
    assert_eq!(
        report.count(Family::Ssn) as usize,
        input.len() / chunk.len()
    );
}

#[test]
fn invalid_utf8_passes_through_around_redactions() {
    let s = scrubber();
    let mut input = b"\xff\xfe SSN: 123-45-6789 \xc3\x28 end".to_vec();
    input.extend_from_slice(b"\n\x80");
    let out = s.scrub_bytes(&input).into_inner();
    assert!(out.starts_with(b"\xff\xfe SSN: [PHI:SSN:"));
    assert!(out.ends_with(b"] \xc3\x28 end\n\x80"));
}
