//! How the command line prints: results for people or as JSON lines ([`output`]), times ([`time`]),
//! one event a line ([`event_line`]), and how a command ended ([`report`]).

pub mod event_line;
pub mod output;
pub mod report;
pub mod time;
