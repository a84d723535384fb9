//! The message catalogs: `locales/<face>/<lang>.toml`, compiled into the binary and parsed once.
//! A file holds `key = "text"` lines (TOML tables flatten to dotted keys); a text's
//! placeholders are `{name}`.

use std::collections::{BTreeSet, HashMap};
use std::sync::{Mutex, OnceLock};

use crate::Lang;

macro_rules! face {
    ($face:literal) => {
        (
            $face,
            [
                include_str!(concat!("../locales/", $face, "/en.toml")),
                include_str!(concat!("../locales/", $face, "/ar.toml")),
                include_str!(concat!("../locales/", $face, "/fr.toml")),
                include_str!(concat!("../locales/", $face, "/de.toml")),
                include_str!(concat!("../locales/", $face, "/es.toml")),
                include_str!(concat!("../locales/", $face, "/tr.toml")),
            ],
        )
    };
}

/// Every face's catalog, in [`Lang::ALL`] order.
pub(crate) const FACES: &[(&str, [&str; 6])] = &[
    face!("common"),
    face!("card"),
    face!("decline"),
    face!("checkout"),
    face!("pw"),
    face!("pm"),
];

struct Catalogs {
    texts: HashMap<(Lang, String), String>,
    /// Every English key, sorted.
    keys: Vec<String>,
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut Vec<(String, String)>) {
    for (k, v) in table {
        let key = format!("{prefix}.{k}");
        match v {
            toml::Value::String(s) => out.push((key, s.clone())),
            toml::Value::Table(t) => flatten(&key, t, out),
            other => panic!("catalog key {key}: expected a string, found {other}"),
        }
    }
}

/// The parsed entries of one file, or why it cannot be read.
pub(crate) fn parse(face: &str, source: &str) -> Result<Vec<(String, String)>, String> {
    let table: toml::Table = source.parse().map_err(|e| format!("{e}"))?;
    let mut out = Vec::new();
    flatten(face, &table, &mut out);
    Ok(out)
}

fn catalogs() -> &'static Catalogs {
    static CATALOGS: OnceLock<Catalogs> = OnceLock::new();
    CATALOGS.get_or_init(|| {
        let mut texts = HashMap::new();
        let mut keys = BTreeSet::new();
        for (face, sources) in FACES {
            for (lang, source) in Lang::ALL.into_iter().zip(sources) {
                // The catalogs are part of the binary and checked by the unit tests: a file that
                // does not parse is a build defect, not a runtime condition.
                let entries = parse(face, source)
                    .unwrap_or_else(|e| panic!("locales/{face}/{lang}.toml: {e}"));
                for (key, text) in entries {
                    if lang == Lang::En {
                        keys.insert(key.clone());
                    }
                    texts.insert((lang, key), text);
                }
            }
        }
        Catalogs {
            texts,
            keys: keys.into_iter().collect(),
        }
    })
}

pub(crate) fn lookup(lang: Lang, key: &str) -> Option<&'static str> {
    catalogs()
        .texts
        .get(&(lang, key.to_string()))
        .map(String::as_str)
}

pub(crate) fn keys() -> &'static [String] {
    &catalogs().keys
}

/// A missing key, returned as its own text. Each distinct key is kept once, so a template
/// asking for a missing key on every render does not grow memory.
pub(crate) fn leak_key(key: &str) -> &'static str {
    static MISSING: OnceLock<Mutex<BTreeSet<&'static str>>> = OnceLock::new();
    let mut set = MISSING
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(k) = set.get(key) {
        return k;
    }
    let leaked: &'static str = Box::leak(key.to_string().into_boxed_str());
    set.insert(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    fn placeholders(text: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        let mut rest = text;
        while let Some(start) = rest.find('{') {
            let Some(len) = rest[start..].find('}') else {
                break;
            };
            out.insert(rest[start + 1..start + len].to_string());
            rest = &rest[start + len..];
        }
        out
    }

    #[test]
    fn every_catalog_parses_and_has_exactly_the_english_keys_with_the_same_placeholders() {
        let mut problems = Vec::new();
        for (face, sources) in FACES {
            let en: HashMap<String, String> =
                parse(face, sources[0]).unwrap().into_iter().collect();
            for (lang, source) in Lang::ALL.into_iter().zip(sources).skip(1) {
                let entries = match parse(face, source) {
                    Ok(e) => e,
                    Err(e) => {
                        problems.push(format!("{face}/{lang}: {e}"));
                        continue;
                    }
                };
                let other: HashMap<String, String> = entries.into_iter().collect();
                for (key, text) in &en {
                    match other.get(key) {
                        None => problems.push(format!("{face}/{lang}: missing {key}")),
                        Some(t) if t.trim().is_empty() => {
                            problems.push(format!("{face}/{lang}: empty {key}"))
                        }
                        Some(t) if placeholders(t) != placeholders(text) => problems.push(format!(
                            "{face}/{lang}: {key} placeholders {:?} differ from English {:?}",
                            placeholders(t),
                            placeholders(text)
                        )),
                        Some(_) => {}
                    }
                }
                for key in other.keys().filter(|k| !en.contains_key(*k)) {
                    problems.push(format!("{face}/{lang}: {key} is not in English"));
                }
            }
        }
        assert!(problems.is_empty(), "{}", problems.join("\n"));
    }

    #[test]
    fn the_other_languages_are_translations_not_copies_of_english() {
        // A few copied words are normal ("Visa", "OK"); a catalog that is mostly English is not.
        for (face, sources) in FACES {
            let en: HashMap<String, String> =
                parse(face, sources[0]).unwrap().into_iter().collect();
            if en.len() < 4 {
                continue;
            }
            for (lang, source) in Lang::ALL.into_iter().zip(sources).skip(1) {
                let same = parse(face, source)
                    .unwrap()
                    .into_iter()
                    .filter(|(k, t)| en.get(k) == Some(t))
                    .count();
                assert!(
                    same * 4 < en.len(),
                    "{face}/{lang}: {same} of {} texts are identical to English",
                    en.len()
                );
            }
        }
    }

    #[test]
    fn missing_keys_are_kept_once() {
        let a = leak_key("x.missing");
        let b = leak_key("x.missing");
        assert!(std::ptr::eq(a, b));
    }
}
