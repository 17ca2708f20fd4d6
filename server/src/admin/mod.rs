//! Operations: four-letter words on the client port and the counters
//! behind them.

mod four_letter;

pub use crate::metrics::{LatencySummary, Metrics};
pub use four_letter::four_letter_word;

/// The version reported by `srvr`, `stat`, `mntr` and `envi`. Clients such
/// as kazoo parse the leading `major.minor.patch` to decide which
/// operations the server supports, so it names the ZooKeeper release whose
/// protocol Corral speaks, then Corral's own version.
pub const VERSION: &str = concat!("3.8.4-corral-", env!("CARGO_PKG_VERSION"));
