//! Tests of the dashboard: the model, the HTTP API and event stream on a real socket, and the
//! page in headless Chromium.

mod api;
mod browser;
pub(crate) mod http;
mod state;
pub(crate) mod synthetic;
pub(crate) mod webdriver;
