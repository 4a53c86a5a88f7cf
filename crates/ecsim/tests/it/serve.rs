//! `ecsim serve` driven through AliECS's control API by a client generated from `proto/`
//! (tonic), as a test harness or AliECS's GUI drives AliECS: the replies' fields, AliECS's
//! error statuses, `Subscribe`, many clients at once, and a shutdown that loses nothing. The
//! messages an API-driven environment publishes are compared with those of the same steps in a
//! scenario, modulo ids and times.

mod api;
mod gui;
mod harness;
mod resilience;

use harness::*;
