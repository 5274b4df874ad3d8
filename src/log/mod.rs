//! One session log on disk: the handle ([`session`]), the group commit
//! that writes its records ([`commit`]), creating a log file (`create`),
//! cutting a torn tail (`recover`), every file name ([`layout`]) and the
//! durability rules all of them follow ([`fsutil`]). [`global`] keeps a
//! process-wide default handle.

pub mod commit;
pub(crate) mod create;
pub mod fsutil;
pub mod global;
pub mod layout;
pub(crate) mod recover;
pub mod session;
