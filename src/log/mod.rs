//! One session log on disk, below the handle that drives it: the group
//! commit that writes its records (`commit`), creating a log file
//! (`create`) and cutting a torn tail (`recover`). File names and the
//! durability rules they all follow live a floor down, in [`crate::fs`].

pub(crate) mod commit;
pub(crate) mod create;
pub(crate) mod recover;
