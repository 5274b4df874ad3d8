//! One session log on disk: the handle (`session`), the group commit
//! that writes its records (`commit`), creating a log file (`create`),
//! cutting a torn tail (`recover`), every file name (`layout`) and the
//! durability rules all of them follow (`fsutil`). `global` keeps a
//! process-wide default handle.

pub(crate) mod commit;
pub(crate) mod create;
pub(crate) mod fsutil;
pub mod global;
pub(crate) mod layout;
pub(crate) mod recover;
pub(crate) mod session;
