//! Files in and out: the event log and truth ledger as CSV (or Parquet)
//! tables, path files in ChannelAttribution's format, and external tools'
//! credit tables and clusters. Every reader collects its problems with file,
//! line and column and never panics on input; nothing here prints.

pub(crate) mod csv;
pub mod event_log;
pub mod external;
pub mod pathfile;
pub mod problems;
