//! Watching a machine's screen: the stream client shared by the headless
//! recorder and the viewer window.

pub mod headless;
mod probe;
pub mod stream;
pub mod window;
