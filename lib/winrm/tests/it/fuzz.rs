//! Parsers never panic, whatever the bytes (proptest stands in for
//! cargo-fuzz, which needs nightly).

use proptest::prelude::*;
use winrm::envelope::{Action, Reply, Request};
use winrm::{framing, powershell, xml::Element};

const ACTIONS: [Action; 6] = [
    Action::Create,
    Action::Delete,
    Action::Command,
    Action::Send,
    Action::Receive,
    Action::Signal,
];

fn golden_reply() -> Vec<u8> {
    std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/data/windows_receive_response.xml"
    ))
    .unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn soap_parsers_never_panic_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..2048), action in 0usize..6) {
        let _ = Element::parse(&bytes);
        let _ = Reply::parse(&bytes, ACTIONS[action]);
        let _ = Request::parse(&bytes);
    }

    #[test]
    fn soap_parsers_never_panic_on_mutated_replies(position in 0usize..4096, value in any::<u8>(), cut in 0usize..4096) {
        let mut bytes = golden_reply();
        let len = bytes.len();
        bytes[position % len] = value;
        bytes.truncate(cut % (len + 1));
        let _ = Reply::parse(&bytes, Action::Receive);
    }

    #[test]
    fn framing_decoder_never_panics_on_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = framing::decode(&bytes);
    }

    #[test]
    fn framing_decoder_never_panics_on_mutated_frames(sealed in proptest::collection::vec(any::<u8>(), 0..64), position in 0usize..512, value in any::<u8>(), cut in 0usize..512) {
        let mut body = framing::encode(&[9; 16], &sealed, sealed.len());
        let len = body.len();
        body[position % len] = value;
        body.truncate(cut % (len + 1));
        let _ = framing::decode(&body);
    }

    #[test]
    fn framing_round_trips(sealed in proptest::collection::vec(any::<u8>(), 0..256), signature in proptest::array::uniform16(any::<u8>())) {
        let part = framing::decode(&framing::encode(&signature, &sealed, sealed.len())).unwrap();
        prop_assert_eq!(part.sealed, sealed);
        prop_assert_eq!(part.signature, signature.to_vec());
    }

    #[test]
    fn powershell_decoders_never_panic(text in ".{0,300}") {
        let _ = powershell::decode_clixml(&format!("#< CLIXML\r\n{text}"));
        let _ = powershell::decode_xml_escapes(&text);
        let _ = powershell::decode_command(&text);
        let _ = powershell::decode_stdin_script(text.as_bytes());
    }

    #[test]
    fn encoded_commands_round_trip(script in "\\PC{0,200}") {
        prop_assert_eq!(powershell::decode_command(&powershell::encode_command(&script)).unwrap(), script);
    }

    #[test]
    fn ntlm_acceptor_never_panics_on_arbitrary_tokens(token in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut acceptor = winrm::auth::NtlmAcceptor::new("TESTDOM\\alice", "pw").unwrap();
        let _ = acceptor.accept(&token);
        let _ = acceptor.accept(&token);
    }

    #[test]
    fn ntlm_client_never_panics_on_arbitrary_challenges(token in proptest::collection::vec(any::<u8>(), 0..400)) {
        use winrm::auth::Authenticator as _;
        let mut client = winrm::auth::NtlmClient::new("TESTDOM\\alice", "pw", "srv").unwrap();
        let _ = client.step(None);
        let _ = client.step(Some(&token));
    }
}
