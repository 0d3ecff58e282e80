//! RFC 8785 JSON Canonicalization Scheme: sorted keys (by UTF-16 code
//! units), no whitespace, ECMAScript number formatting, minimal escapes.
//! Evidence is hashed and signed over these bytes and nothing else.

use serde::Serialize;

use crate::error::{Error, Result};

/// The canonical UTF-8 bytes of `value`.
///
/// # Errors
/// When `value` cannot be represented in I-JSON (for example a NaN float
/// or a map with non-string keys).
pub fn to_vec<T: Serialize>(what: &'static str, value: &T) -> Result<Vec<u8>> {
    serde_json_canonicalizer::to_vec(value).map_err(|source| Error::Canonical { what, source })
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;

    fn canonical(json: &str) -> String {
        let value: Value = serde_json::from_str(json).unwrap();
        String::from_utf8(to_vec("test", &value).unwrap()).unwrap()
    }

    /// RFC 8785 section 3.2.2 (input) and 3.2.3 (output).
    #[test]
    fn rfc8785_main_example_canonicalizes_exactly() {
        let input = r#"{
          "numbers": [333333333.33333329, 1E30, 4.50,
                      2e-3, 0.000000000000000000000000001],
          "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
          "literals": [null, true, false]
        }"#;
        assert_eq!(
            canonical(input),
            r#"{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        );
    }

    /// RFC 8785 section 3.2.3: property sorting by UTF-16 code units, where
    /// the emoji (a surrogate pair) sorts before U+FB33.
    #[test]
    fn rfc8785_sorting_example_orders_by_utf16_code_units() {
        let input = r#"{
          "\u20ac": "Euro Sign",
          "\r": "Carriage Return",
          "\ufb33": "Hebrew Letter Dalet With Dagesh",
          "1": "One",
          "\ud83d\ude00": "Emoji: Grinning Face",
          "\u0080": "Control",
          "\u00f6": "Latin Small Letter O With Diaeresis"
        }"#;
        assert_eq!(
            canonical(input),
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\
             \"ö\":\"Latin Small Letter O With Diaeresis\",\"€\":\"Euro Sign\",\
             \"😀\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}"
        );
    }

    /// RFC 8785 appendix B: IEEE 754 doubles and their canonical text.
    #[test]
    fn rfc8785_appendix_b_numbers_serialize_as_ecmascript() {
        let cases: [(u64, &str); 24] = [
            (0x0000000000000000, "0"),
            (0x8000000000000000, "0"),
            (0x0000000000000001, "5e-324"),
            (0x8000000000000001, "-5e-324"),
            (0x7fefffffffffffff, "1.7976931348623157e+308"),
            (0xffefffffffffffff, "-1.7976931348623157e+308"),
            (0x4340000000000000, "9007199254740992"),
            (0xc340000000000000, "-9007199254740992"),
            (0x4430000000000000, "295147905179352830000"),
            (0x44b52d02c7e14af5, "9.999999999999997e+22"),
            (0x44b52d02c7e14af6, "1e+23"),
            (0x44b52d02c7e14af7, "1.0000000000000001e+23"),
            (0x444b1ae4d6e2ef4e, "999999999999999700000"),
            (0x444b1ae4d6e2ef4f, "999999999999999900000"),
            (0x444b1ae4d6e2ef50, "1e+21"),
            (0x3eb0c6f7a0b5ed8c, "9.999999999999997e-7"),
            (0x3eb0c6f7a0b5ed8d, "0.000001"),
            (0x41b3de4355555553, "333333333.3333332"),
            (0x41b3de4355555554, "333333333.33333325"),
            (0x41b3de4355555555, "333333333.3333333"),
            (0x41b3de4355555556, "333333333.3333334"),
            (0x41b3de4355555557, "333333333.33333343"),
            (0xbecbf647612f3696, "-0.0000033333333333333333"),
            (0x43143ff3c1cb0959, "1424953923781206.2"),
        ];
        for (bits, expected) in cases {
            let text = String::from_utf8(to_vec("test", &f64::from_bits(bits)).unwrap()).unwrap();
            assert_eq!(text, expected, "{bits:#018x}");
        }
    }

    /// RFC 8785 appendix B: NaN and Infinity have no JSON form.
    #[test]
    fn rfc8785_nan_and_infinity_are_refused() {
        assert!(to_vec("test", &f64::from_bits(0x7fffffffffffffff)).is_err());
        assert!(to_vec("test", &f64::from_bits(0x7ff0000000000000)).is_err());
    }
}
