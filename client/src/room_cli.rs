//! `client room ...`: the scripted room commands. Each does one thing and
//! prints its result as a line (or one JSON value with `--json`); errors go
//! back to `main`, which prints one line.
//!
//! What a room command reads from the rooms' logs on the way (it must be on
//! the room's current epoch to act) is kept for the next `inbox`.

use anyhow::bail;
use serde_json::json;

use crate::cli::RoomCommand;
use crate::client::Client;
use crate::display::escape_line;
use crate::script::{print_json, read_stdin};

/// Runs one room command.
///
/// # Errors
/// Whatever the command hit, for `main` to print.
pub async fn run(client: &Client, command: RoomCommand, json: bool) -> anyhow::Result<()> {
    match command {
        RoomCommand::Create { name } => {
            let info = client.room_create(&name).await?;
            if json {
                print_json(&info)?;
            } else {
                println!(
                    "created #{} (id {}); you are its owner",
                    escape_line(&info.name),
                    info.id
                );
            }
        }
        RoomCommand::Add { name, users } => {
            let added = client.room_add(&name, &users).await?;
            if json {
                print_json(&json!({ "room": name, "added": added }))?;
            } else {
                let who: Vec<_> = added.iter().map(|a| escape_line(a).into_owned()).collect();
                println!("added {} to #{}", who.join(", "), escape_line(&name));
            }
        }
        RoomCommand::Remove { name, user } => {
            client.room_remove(&name, &user).await?;
            if json {
                print_json(&json!({ "room": name, "removed": user }))?;
            } else {
                println!(
                    "removed {} from #{}; they cannot read what follows",
                    escape_line(&user),
                    escape_line(&name)
                );
            }
        }
        RoomCommand::Promote { name, user } => {
            client.room_promote(&name, &user).await?;
            if json {
                print_json(&json!({ "room": name, "admin": user }))?;
            } else {
                println!(
                    "{} is now an admin of #{}",
                    escape_line(&user),
                    escape_line(&name)
                );
            }
        }
        RoomCommand::Leave { name } => {
            client.room_leave(&name).await?;
            if json {
                print_json(&json!({ "room": name, "leave_requested": true }))?;
            } else {
                println!(
                    "asked to leave #{}; you are out once another member's client commits it",
                    escape_line(&name)
                );
            }
        }
        RoomCommand::Send { name, text } => {
            let text = match text.as_deref() {
                None | Some("-") => read_stdin()?,
                Some(t) => t.to_string(),
            };
            if text.is_empty() {
                bail!("the text is empty");
            }
            let seq = client.room_send(&name, &text).await?;
            if json {
                print_json(&json!({ "room": name, "seq": seq }))?;
            } else {
                println!("sent to #{} (entry {seq})", escape_line(&name));
            }
        }
        RoomCommand::Members { name } => {
            let members = client.room_members(&name).await?;
            if json {
                print_json(&members)?;
            } else {
                for m in &members {
                    println!("{:<30} {:<6} {}", escape_line(&m.name), m.role, m.id);
                }
            }
        }
        RoomCommand::List => {
            let rooms = client.room_list().await?;
            if json {
                print_json(&rooms)?;
            } else if rooms.is_empty() {
                println!("you are in no room yet (`client room create NAME` makes one)");
            } else {
                for r in &rooms {
                    println!(
                        "#{:<29} {:>4} member(s)  you: {:<6} {}",
                        escape_line(&r.name),
                        r.members,
                        r.role,
                        r.id
                    );
                }
            }
        }
    }
    Ok(())
}
