//! (module under construction)

pub mod player;
