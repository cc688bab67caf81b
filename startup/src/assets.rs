//! The files a package installs beside a binary, generated from its clap
//! definition so that they never drift from it: a man page per command
//! (`NAME.1`, and `NAME-SUB.1` for each visible subcommand) and shell
//! completions for bash, zsh and fish. Each binary reaches this through a
//! hidden `generate-assets DIR` subcommand (see `deploy/build-deb`).

use std::fs;
use std::io;
use std::path::Path;

use clap_complete::Shell;

/// Writes `DIR/man/*.1` and `DIR/completions/{NAME.bash,_NAME,NAME.fish}`
/// for `command`, named `name` (the installed binary's name).
///
/// # Errors
/// A file cannot be written.
pub fn generate(command: clap::Command, name: &'static str, dir: &Path) -> io::Result<()> {
    let mut command = command.name(name).bin_name(name);
    command.build();
    let man = dir.join("man");
    fs::create_dir_all(&man)?;
    write_man(&command, name, &man)?;
    let completions = dir.join("completions");
    fs::create_dir_all(&completions)?;
    for (shell, file) in [
        (Shell::Bash, format!("{name}.bash")),
        (Shell::Zsh, format!("_{name}")),
        (Shell::Fish, format!("{name}.fish")),
    ] {
        let mut out = fs::File::create(completions.join(file))?;
        clap_complete::generate(shell, &mut command.clone(), name, &mut out);
    }
    Ok(())
}

/// The page of `command` and, recursively, of its visible subcommands.
fn write_man(command: &clap::Command, page: &str, dir: &Path) -> io::Result<()> {
    let mut out = fs::File::create(dir.join(format!("{page}.1")))?;
    clap_mangen::Man::new(command.clone())
        .title(page)
        .render(&mut out)?;
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        if sub.get_name() == "help" {
            continue;
        }
        write_man(sub, &format!("{page}-{}", sub.get_name()), dir)?;
    }
    Ok(())
}
