//! End-to-end tests: the real server (in process on a real SQLite file, or
//! its binary) and real clients over loopback. One test binary; one module
//! per area.

mod account_delete;
mod at_rest;
mod bodies;
mod cli_json;
mod client;
mod cluster;
mod cluster_operator;
mod cluster_presence;
mod cluster_push;
mod failover;
mod files;
mod haproxy;
mod healing;
mod history;
mod lifecycle;
mod menu;
mod menu_talk;
mod names;
mod nodes;
mod operator;
mod package;
mod presence;
mod replay;
mod room_offers;
mod room_uploads;
mod rooms_cli;
mod rooms_delete;
mod rooms_gone;
mod rooms_join;
mod rooms_leave;
mod rooms_menu;
mod rooms_names;
mod rooms_noop;
mod rooms_password;
mod same_home;
mod scripted;
mod server_trust;
mod stopped_transfers;
mod tui;
mod tui_more;
mod tui_trust;
mod uploads;
mod v2;
mod v3;
