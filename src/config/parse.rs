//! Reading a TOML document (TOML 1.0, via the `toml` crate) into [`Settings`] while keeping the
//! byte span of every key and value, so each error points at a line and column.
//!
//! The document is deserialized twice: first as `section → value` to refuse unknown sections
//! and sections that are not tables, then as `section → key → Spanned<value>`. Every key is then
//! stored through the key table (`keys.rs`) and [`super::keys::problems`] runs on the result.
//! Of all problems found, the one that starts first in the text is reported.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use toml::{Spanned, Value};

use super::array::{self, ArrayItem};
use super::keys::{self, Problem, Reject, SECTIONS};
use super::{ConfigError, PublishTarget, Settings, VariantSettings};

type Sections = BTreeMap<Spanned<String>, Value>;
type Table = BTreeMap<Spanned<String>, Spanned<Value>>;
type Doc = BTreeMap<Spanned<String>, Body>;

/// The arrays of tables: `[[publish]]`, `[[variant]]`.
const ARRAYS: [&str; 2] = [PublishTarget::NAME, VariantSettings::NAME];

/// A top-level item: a section (`[video]`) or an array of tables (`[[publish]]`), read with the
/// spans of its keys and values kept.
enum Body {
    Table(Table),
    Array(Vec<Table>),
}

impl<'de> Deserialize<'de> for Body {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Body, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Body;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a table or an array of tables")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Body, A::Error> {
                let mut t = Table::new();
                while let Some((k, v)) = m.next_entry::<Spanned<String>, Spanned<Value>>()? {
                    t.insert(k, v);
                }
                Ok(Body::Table(t))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Body, A::Error> {
                let mut v = Vec::new();
                while let Some(t) = s.next_element::<Table>()? {
                    v.push(t);
                }
                Ok(Body::Array(v))
            }
        }
        d.deserialize_any(V)
    }
}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let line = before.matches('\n').count() + 1;
    (line, before[line_start..].chars().count() + 1)
}

fn syntax(text: &str, e: &toml::de::Error) -> ConfigError {
    let message: Vec<&str> = e
        .message()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let at = e.span().map(|r: Range<usize>| line_col(text, r.start));
    ConfigError::new(Some("TOML syntax error".to_owned()), at, message.join("; "))
}

/// Parses and validates `text` (origin left unset).
pub(crate) fn parse(text: &str) -> Result<Settings, ConfigError> {
    // (byte offset or usize::MAX when the problem has no place in the text, error)
    let mut found: Vec<(usize, ConfigError)> = Vec::new();
    let at = |off: usize| Some(line_col(text, off));

    let sections: Sections = toml::from_str(text).map_err(|e| syntax(text, &e))?;
    for (name, value) in &sections {
        let off = name.span().start;
        if let Some(&array) = ARRAYS.iter().find(|a| **a == name.get_ref()) {
            let tables = value
                .as_array()
                .is_some_and(|a| a.iter().all(Value::is_table));
            if !tables {
                found.push((
                    off,
                    ConfigError::new(
                        Some(format!("{array} = {}", keys::render(value))),
                        at(off),
                        format!(
                            "must be an array of tables: one [[{array}]] per {}",
                            if array == ARRAYS[0] {
                                "target"
                            } else {
                                "rendition"
                            }
                        ),
                    ),
                ));
            }
        } else if !SECTIONS.contains(&name.get_ref().as_str()) {
            found.push((
                off,
                ConfigError::new(
                    Some(format!("unknown section [{}]", name.get_ref())),
                    at(off),
                    format!(
                        "allowed sections are {}, [[{}]] and [[{}]]",
                        SECTIONS.join(", "),
                        ARRAYS[0],
                        ARRAYS[1]
                    ),
                ),
            ));
        } else if !value.is_table() {
            found.push((
                off,
                ConfigError::new(
                    Some(format!("{} = {}", name.get_ref(), keys::render(value))),
                    at(off),
                    format!("must be a table: [{}]", name.get_ref()),
                ),
            ));
        }
    }
    if let Some(e) = earliest(std::mem::take(&mut found)) {
        return Err(e);
    }

    let doc: Doc = toml::from_str(text).map_err(|e| syntax(text, &e))?;
    let mut settings = Settings::default();
    let mut spans: HashMap<(&str, &str), usize> = HashMap::new();
    for (section_name, body) in &doc {
        let section = section_name.get_ref().as_str();
        let entries = match body {
            Body::Table(t) => t,
            Body::Array(targets) => {
                for (i, t) in targets.iter().enumerate() {
                    let header = t
                        .keys()
                        .map(|k| k.span().start)
                        .min()
                        .unwrap_or(section_name.span().start);
                    let entries = t.iter().map(|(k, v)| {
                        (
                            k.get_ref().as_str(),
                            v.get_ref(),
                            k.span().start,
                            v.span().start,
                        )
                    });
                    let problems = if section == VariantSettings::NAME {
                        let (v, problems) = array::read::<VariantSettings>(i, entries, header);
                        settings.variant.push(v);
                        problems
                    } else {
                        let (t, problems) = array::read::<PublishTarget>(i, entries, header);
                        settings.publish.push(t);
                        problems
                    };
                    for (off, subject, message) in problems {
                        found.push((off, ConfigError::new(Some(subject), at(off), message)));
                    }
                }
                continue;
            }
        };
        for (name, value) in entries {
            let Some(key) = keys::find(section, name.get_ref()) else {
                let off = name.span().start;
                found.push((
                    off,
                    ConfigError::new(
                        Some(format!("unknown key {section}.{}", name.get_ref())),
                        at(off),
                        format!(
                            "allowed keys in [{section}] are {}",
                            keys::names_in(section)
                        ),
                    ),
                ));
                continue;
            };
            let off = value.span().start;
            let message = match (key.set)(&mut settings, value.get_ref()) {
                Ok(()) => {
                    spans.insert((key.section, key.name), off);
                    continue;
                }
                Err(Reject::Type) => key.kind.type_message(),
                Err(Reject::Range) => key.kind.range_message(),
            };
            let subject = Problem::subject(key, value.get_ref());
            found.push((off, ConfigError::new(Some(subject), at(off), message)));
        }
    }
    for p in keys::problems(&settings) {
        let off = spans.get(&(p.key.section, p.key.name)).copied();
        let e = match off {
            Some(o) => p.into_error(&settings, Some(line_col(text, o))),
            None => p.into_default_error(&settings),
        };
        found.push((off.unwrap_or(usize::MAX), e));
    }
    // Rules between [[variant]] and [video]: after everything that has a place in the text.
    for (subject, message) in super::variant::cross_problems(&settings) {
        found.push((usize::MAX, ConfigError::new(Some(subject), None, message)));
    }
    match earliest(found) {
        Some(e) => Err(e),
        None => Ok(settings),
    }
}

/// The problem that starts first in the text (stable: the first found among equals).
fn earliest(found: Vec<(usize, ConfigError)>) -> Option<ConfigError> {
    let mut best: Option<(usize, ConfigError)> = None;
    for (off, e) in found {
        if best.as_ref().map_or(true, |(b, _)| off < *b) {
            best = Some((off, e));
        }
    }
    best.map(|(_, e)| e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_characters_from_one() {
        let t = "ab\nçd = 1\n";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 3), (2, 1));
        // 'ç' is two bytes: "d" is at byte 5 but column 2.
        assert_eq!(line_col(t, 5), (2, 2));
        assert_eq!(line_col(t, 4), (2, 1)); // inside 'ç' → its start
        assert_eq!(line_col(t, 999), (3, 1));
    }

    #[test]
    fn earliest_prefers_the_first_position() {
        let e = |m: &str| ConfigError::new(None, None, m.to_owned());
        let got = earliest(vec![
            (9, e("b")),
            (3, e("a")),
            (3, e("c")),
            (usize::MAX, e("d")),
        ]);
        assert_eq!(got.unwrap().message(), "a");
        assert!(earliest(Vec::new()).is_none());
    }
}
