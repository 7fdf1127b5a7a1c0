//! Arrays of tables (`[[publish]]`, `[[variant]]`): reading one table with the span of every
//! key kept, its per-table problems, and writing the tables back. Each table type says its keys,
//! which of them are required, and how to get and set them ([`ArrayItem`]); the walk here is
//! shared.

use toml::Value;

/// One table of an array of tables.
pub(crate) trait ArrayItem: Sized {
    /// The array's name in the file (`publish`).
    const NAME: &'static str;
    /// Its keys, in documentation order.
    const KEYS: &'static [&'static str];
    /// A table with every key unset (or at its default).
    fn blank() -> Self;
    /// The message when required `key` is missing, or `None` when `key` is optional.
    fn required(key: &str) -> Option<&'static str>;
    /// The value of `key` (one of [`Self::KEYS`]).
    fn get(&self, key: &str) -> Value;
    /// Stores `value` into `key`; the message says what is allowed when it cannot.
    fn set(&mut self, key: &str, value: &Value) -> Result<(), String>;
    /// The problems of a table whose required keys are all present, as (key, message).
    fn problems(&self) -> Vec<(&'static str, String)>;
    /// The key a problem of a missing key points at (the table's identifying key).
    const ANCHOR: &'static str;
    /// Whether [`to_toml`] writes `key` (unset optional keys are left out).
    fn written(&self, key: &str) -> bool;
}

/// `name[i].key = value`, the subject of an error message.
pub(crate) fn subject<T: ArrayItem>(i: usize, key: &str, value: &Value) -> String {
    format!("{}[{i}].{key} = {}", T::NAME, super::keys::render(value))
}

/// Reads table number `i` from its `(key, value, key offset, value offset)`. Problems come back
/// as (byte offset, subject, message); `header` is where the table starts (for a missing key).
pub(crate) fn read<'a, T: ArrayItem>(
    i: usize,
    entries: impl Iterator<Item = (&'a str, &'a Value, usize, usize)>,
    header: usize,
) -> (T, Vec<(usize, String, String)>) {
    let mut t = T::blank();
    let mut found = Vec::new();
    let mut spans: Vec<(&'static str, usize)> = Vec::new();
    let mut failed: Vec<&'static str> = Vec::new();
    for (name, value, key_off, off) in entries {
        let Some(&key) = T::KEYS.iter().find(|k| **k == name) else {
            found.push((
                key_off,
                format!("unknown key {}[{i}].{name}", T::NAME),
                format!("allowed keys in [[{}]] are {}", T::NAME, T::KEYS.join(", ")),
            ));
            continue;
        };
        match t.set(key, value) {
            Ok(()) => spans.push((key, off)),
            Err(m) => {
                failed.push(key);
                found.push((off, subject::<T>(i, key, value), m));
            }
        }
    }
    let mut missing = false;
    for &key in T::KEYS {
        if let Some(message) = T::required(key) {
            if !spans.iter().any(|s| s.0 == key) && !failed.contains(&key) {
                found.push((header, format!("{}[{i}]", T::NAME), message.to_owned()));
            }
            missing |= !spans.iter().any(|s| s.0 == key);
        }
    }
    if missing {
        return (t, found);
    }
    for (key, message) in t.problems() {
        if failed.contains(&key) {
            continue;
        }
        let off = spans
            .iter()
            .find(|s| s.0 == key)
            .or_else(|| spans.iter().find(|s| s.0 == T::ANCHOR))
            .map_or(header, |s| s.1);
        found.push((off, subject::<T>(i, key, &t.get(key)), message));
    }
    (t, found)
}

/// The first problem of any table, as (subject, message), for [`super::Settings::validate`].
pub(crate) fn first_problem<T: ArrayItem>(items: &[T]) -> Option<(String, String)> {
    items.iter().enumerate().find_map(|(i, t)| {
        t.problems()
            .into_iter()
            .next()
            .map(|(key, m)| (subject::<T>(i, key, &t.get(key)), m))
    })
}

/// The tables as `[[name]]` tables (nothing when there are none).
pub(crate) fn to_toml<T: ArrayItem>(items: &[T]) -> String {
    let mut out = String::new();
    for t in items {
        out.push_str(&format!("\n[[{}]]\n", T::NAME));
        for key in T::KEYS {
            if t.written(key) {
                out.push_str(&format!("{key} = {}\n", t.get(key)));
            }
        }
    }
    out
}
