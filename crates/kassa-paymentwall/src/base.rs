//! The signature BASE string: `k1=v1k2=v2…` over every parameter but the signature itself, with
//! no separators, in one of the two orderings the SDKs produce (spec §3.1).
//!
//! Invariant: the base is built from the names and values exactly as given; only the order
//! changes between [`Ordering::Flat`] and [`Ordering::Nested`], never the bytes of a pair.

use std::cmp::Ordering as Cmp;

/// How the parameters are ordered before concatenation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ordering {
    /// Whole names sorted bytewise (`external_ids[10]` before `external_ids[2]`): the Python,
    /// Node, Ruby and Java SDKs, which take flat names such as `history[registration_date]`.
    Flat,
    /// PHP's nested arrays: names like `base[sub]` are grouped under `base`; the top-level names
    /// are sorted bytewise, the sub-keys of each level with integer keys first in numeric order
    /// (`[9]` before `[10]`), then the others bytewise (the spec's reference implementation).
    Nested,
}

/// The BASE string over `params` minus every pair named `exclude` (`sign` for widgets, `sig` for
/// pingbacks), without the secret. Pairs that compare equal keep their given order.
pub fn signature_base(params: &[(String, String)], exclude: &str, ordering: Ordering) -> String {
    let mut kept: Vec<&(String, String)> = params.iter().filter(|(k, _)| k != exclude).collect();
    match ordering {
        Ordering::Flat => kept.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes())),
        Ordering::Nested => kept.sort_by(|a, b| nested_cmp(&a.0, &b.0)),
    }
    let mut out = String::new();
    for (k, v) in kept {
        out.push_str(k);
        out.push('=');
        out.push_str(v);
    }
    out
}

/// Splits `base[s1][s2]` into `("base", ["s1", "s2"])`. A name that is not of that exact shape
/// (no bracket, empty base, a stray `[` or `]`, text after the last `]`) is a plain scalar name.
pub(crate) fn split_name(name: &str) -> (&str, Vec<&str>) {
    let Some(open) = name.find('[') else {
        return (name, Vec::new());
    };
    let base = &name[..open];
    if base.is_empty() || base.contains(']') {
        return (name, Vec::new());
    }
    let mut subs = Vec::new();
    let mut rest = &name[open..];
    while !rest.is_empty() {
        let Some(inner) = rest.strip_prefix('[') else {
            return (name, Vec::new());
        };
        let Some(close) = inner.find(']') else {
            return (name, Vec::new());
        };
        let sub = &inner[..close];
        if sub.contains('[') {
            return (name, Vec::new());
        }
        subs.push(sub);
        rest = &inner[close + 1..];
    }
    (base, subs)
}

fn nested_cmp(a: &str, b: &str) -> Cmp {
    let (base_a, subs_a) = split_name(a);
    let (base_b, subs_b) = split_name(b);
    base_a
        .as_bytes()
        .cmp(base_b.as_bytes())
        .then_with(|| {
            for (x, y) in subs_a.iter().zip(&subs_b) {
                let c = sub_key_cmp(x, y);
                if c != Cmp::Equal {
                    return c;
                }
            }
            subs_a.len().cmp(&subs_b.len())
        })
        .then_with(|| a.as_bytes().cmp(b.as_bytes()))
}

fn is_integer(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Integer sub-keys first, numerically (any length, no overflow); then the rest bytewise.
fn sub_key_cmp(a: &str, b: &str) -> Cmp {
    match (is_integer(a), is_integer(b)) {
        (true, true) => {
            let ta = a.trim_start_matches('0');
            let tb = b.trim_start_matches('0');
            ta.len()
                .cmp(&tb.len())
                .then_with(|| ta.as_bytes().cmp(tb.as_bytes()))
                .then_with(|| a.as_bytes().cmp(b.as_bytes()))
        }
        (true, false) => Cmp::Less,
        (false, true) => Cmp::Greater,
        (false, false) => a.as_bytes().cmp(b.as_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn names_split_into_base_and_sub_keys_only_when_well_formed() {
        assert_eq!(split_name("uid"), ("uid", vec![]));
        assert_eq!(split_name("a[0]"), ("a", vec!["0"]));
        assert_eq!(split_name("a[x][10]"), ("a", vec!["x", "10"]));
        assert_eq!(split_name("a[]"), ("a", vec![""]));
        assert_eq!(split_name("[0]"), ("[0]", vec![]));
        assert_eq!(split_name("a[0"), ("a[0", vec![]));
        assert_eq!(split_name("a[0]x"), ("a[0]x", vec![]));
        assert_eq!(split_name("a[[0]]"), ("a[[0]]", vec![]));
    }

    #[test]
    fn flat_ordering_is_bytewise_with_uppercase_and_underscore_first() {
        let params = p(&[
            ("email", "e"),
            ("currencyCode", "USD"),
            ("amount", "1"),
            ("ag_type", "fixed"),
            ("Z", "z"),
        ]);
        assert_eq!(
            signature_base(&params, "sign", Ordering::Flat),
            "Z=zag_type=fixedamount=1currencyCode=USDemail=e"
        );
    }

    #[test]
    fn nested_ordering_sorts_integer_sub_keys_numerically_and_flat_does_not() {
        let params = p(&[("a[10]", "x"), ("a[2]", "y"), ("a[b]", "z"), ("a", "s")]);
        assert_eq!(
            signature_base(&params, "sign", Ordering::Nested),
            "a=sa[2]=ya[10]=xa[b]=z"
        );
        assert_eq!(
            signature_base(&params, "sign", Ordering::Flat),
            "a=sa[10]=xa[2]=ya[b]=z"
        );
    }

    #[test]
    fn nested_ordering_groups_under_the_base_name_even_when_another_name_extends_it() {
        // '-' (0x2D) sorts below '[' (0x5B): flat puts `a-b` first, PHP grouping puts `a` first.
        let params = p(&[("a-b", "1"), ("a[0]", "2")]);
        assert_eq!(
            signature_base(&params, "sig", Ordering::Nested),
            "a[0]=2a-b=1"
        );
        assert_eq!(
            signature_base(&params, "sig", Ordering::Flat),
            "a-b=1a[0]=2"
        );
    }

    #[test]
    fn the_excluded_name_and_only_it_is_left_out_while_empty_values_stay() {
        let params = p(&[("sign", "x"), ("signx", ""), ("sig", "y")]);
        assert_eq!(
            signature_base(&params, "sign", Ordering::Flat),
            "sig=ysignx="
        );
    }

    #[test]
    fn huge_integer_sub_keys_compare_numerically_without_overflow() {
        let params = p(&[
            ("a[100000000000000000000000]", "big"),
            ("a[99999999999999999999999]", "small"),
        ]);
        assert_eq!(
            signature_base(&params, "sign", Ordering::Nested),
            "a[99999999999999999999999]=smalla[100000000000000000000000]=big"
        );
    }
}
