//! `application/x-www-form-urlencoded` decoding and encoding of query strings.
//!
//! Invariant: decoding is strict and lossless: every `%XX` escape must be valid and the decoded
//! bytes must be UTF-8, otherwise the whole query is refused (a lossy decode would sign
//! something other than what was sent). Order and repeated names are kept as received.

/// A decoded query string, in received order (duplicates preserved).
pub type Params = Vec<(String, String)>;

/// Why a query string could not be decoded.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum QueryError {
    /// A `%` not followed by two hex digits.
    #[error("bad percent escape at byte {offset} of the query")]
    BadPercentEscape { offset: usize },
    /// The decoded bytes of a name or value are not UTF-8.
    #[error("parameter at byte {offset} of the query is not valid UTF-8 once decoded")]
    InvalidUtf8 { offset: usize },
}

/// Decodes a raw query string (the part after `?`, without the `?`) as
/// `application/x-www-form-urlencoded`: `+` is a space, `%XX` a byte. Pairs are split on `&`;
/// empty segments (`a=1&&b=2`) are skipped, a segment without `=` is a name with an empty value.
pub fn parse_query(raw_query: &str) -> Result<Params, QueryError> {
    let mut out = Vec::new();
    let mut offset = 0;
    for segment in raw_query.split('&') {
        let start = offset;
        offset += segment.len() + 1;
        if segment.is_empty() {
            continue;
        }
        let (name, value, value_start) = match segment.split_once('=') {
            Some((n, v)) => (n, v, start + n.len() + 1),
            None => (segment, "", start + segment.len()),
        };
        out.push((decode(name, start)?, decode(value, value_start)?));
    }
    Ok(out)
}

fn decode(raw: &str, offset: usize) -> Result<String, QueryError> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let hi = bytes.get(i + 1).and_then(|b| hex_value(*b));
                let lo = bytes.get(i + 2).and_then(|b| hex_value(*b));
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                    _ => return Err(QueryError::BadPercentEscape { offset: offset + i }),
                }
                i += 3;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| QueryError::InvalidUtf8 { offset })
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Encodes pairs as `application/x-www-form-urlencoded`, in the given order, the way PHP's
/// `http_build_query` does: ASCII letters, digits and `-_.` stay as they are, a space becomes
/// `+`, every other byte becomes `%XX` (uppercase hex).
pub fn encode_query(params: &[(String, String)]) -> String {
    let mut out = String::new();
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        encode_component(name, &mut out);
        out.push('=');
        encode_component(value, &mut out);
    }
    out
}

fn encode_component(s: &str, out: &mut String) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' => out.push(b as char),
            b' ' => out.push('+'),
            _ => {
                out.push('%');
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 0x0f)] as char);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Params {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn plus_is_a_space_and_percent_escapes_decode_to_bytes() {
        let got =
            parse_query("ag_name=Gold+Membership&email=user%40hostname.com&n=Gold%20M").unwrap();
        assert_eq!(
            got,
            pairs(&[
                ("ag_name", "Gold Membership"),
                ("email", "user@hostname.com"),
                ("n", "Gold M")
            ])
        );
    }

    #[test]
    fn bracketed_names_decode_and_order_and_duplicates_are_kept() {
        let got = parse_query("z=1&history%5Bregistration_date%5D=15&a%5B%5D=x&a%5B%5D=y").unwrap();
        assert_eq!(
            got,
            pairs(&[
                ("z", "1"),
                ("history[registration_date]", "15"),
                ("a[]", "x"),
                ("a[]", "y")
            ])
        );
    }

    #[test]
    fn empty_values_and_names_without_equals_sign_are_empty_strings() {
        let got = parse_query("slength=&speriod&&type=0").unwrap();
        assert_eq!(
            got,
            pairs(&[("slength", ""), ("speriod", ""), ("type", "0")])
        );
        assert_eq!(parse_query("").unwrap(), Params::new());
    }

    #[test]
    fn a_value_may_contain_an_equals_sign() {
        let got = parse_query("success_url=https://x/?a=b").unwrap();
        assert_eq!(got, pairs(&[("success_url", "https://x/?a=b")]));
    }

    #[test]
    fn a_bad_percent_escape_is_an_error_with_its_offset() {
        assert_eq!(
            parse_query("a=1&b=%zz"),
            Err(QueryError::BadPercentEscape { offset: 6 })
        );
        assert_eq!(
            parse_query("a=%4"),
            Err(QueryError::BadPercentEscape { offset: 2 })
        );
        assert_eq!(
            parse_query("x%=1"),
            Err(QueryError::BadPercentEscape { offset: 1 })
        );
    }

    #[test]
    fn decoded_bytes_that_are_not_utf8_are_an_error() {
        assert_eq!(
            parse_query("a=1&b=%FF%FE"),
            Err(QueryError::InvalidUtf8 { offset: 6 })
        );
        assert_eq!(parse_query("c=%C3%A9").unwrap(), pairs(&[("c", "é")]));
    }

    #[test]
    fn encoding_keeps_unreserved_bytes_and_escapes_the_rest_like_php() {
        let q = encode_query(&pairs(&[
            ("goodsid[0]", "a b"),
            ("u", "x@y.com/~*"),
            ("é", "-_."),
        ]));
        assert_eq!(q, "goodsid%5B0%5D=a+b&u=x%40y.com%2F%7E%2A&%C3%A9=-_.");
    }

    #[test]
    fn encoding_then_decoding_gives_back_the_same_pairs() {
        let original = pairs(&[("a b", "c+d&e=f"), ("", ""), ("x[1]", "%41 ü")]);
        assert_eq!(parse_query(&encode_query(&original)).unwrap(), original);
    }
}
