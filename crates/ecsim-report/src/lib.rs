//! A run as a picture: what ecsim's environments did over simulated time, as one
//! self-contained HTML file (`ecsim run --report FILE.html`).
//!
//! [`TimelineRecorder`] is a [`ecsim_core::publish::Publisher`] beside the others of a run: it
//! reads the records as they are published — `aliecs.environment` for states, runs and
//! failures, `aliecs.integrated_service.*` for the services' operations — and keeps only what
//! the picture needs (a span per state change, a bar per run, a mark per failure, message
//! counts per topic and second), never the messages. [`render`] turns it into HTML with the
//! timeline drawn as SVG here, in Rust: the file needs no network and no library (a few inline
//! lines of script zoom its time axis).
//! [`live`] serves a page that shows the same while a real-time run goes on.

#![forbid(unsafe_code)]

mod html;
pub mod live;
mod timeline;

pub use html::render;
pub use timeline::{Lane, Mark, MarkKind, RunBar, Span, Timeline, TimelineRecorder};
