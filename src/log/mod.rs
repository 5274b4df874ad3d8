//! One session log on disk: the handle ([`session`]), the group commit
//! that writes its records ([`commit`]), and the durability rules both
//! follow ([`fsutil`]). [`global`] keeps a process-wide default handle.

pub mod commit;
pub mod fsutil;
pub mod global;
pub mod session;
