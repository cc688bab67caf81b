//! The lines of `room members` and `room list` for a person.

/// `room members` as lines: name, role, online, id and a remark, in
/// columns as wide as the widest entry (a member shown by its id is 32
/// columns wide), however wide its characters are on a terminal.
pub(super) fn member_lines(members: &[crate::rooms::RoomMemberInfo]) -> Vec<String> {
    use unicode_width::UnicodeWidthStr;
    let names: Vec<String> = members.iter().map(|m| m.shown_name()).collect();
    let wide = names.iter().map(|n| n.width()).max().unwrap_or(0);
    members
        .iter()
        .zip(names)
        .map(|(m, name)| {
            let pad = " ".repeat(wide - name.width());
            let online = if m.online { "online" } else { "" };
            let remark = m.remark().map(|r| format!("  {r}")).unwrap_or_default();
            format!("{name}{pad} {:<6} {online:<6} {}{remark}", m.role, m.id)
        })
        .collect()
}

/// `member` or `members`, as the count asks.
pub(super) fn member_word(count: usize) -> &'static str {
    if count == 1 { "member" } else { "members" }
}

#[cfg(test)]
mod tests {
    use protocol::ClientId;

    use super::member_lines;
    use crate::rooms::RoomMemberInfo;

    fn member(name: &str, role: &str, id: u8) -> RoomMemberInfo {
        RoomMemberInfo::sample(name, role, id)
    }

    #[test]
    fn members_line_up_whatever_their_names_width() {
        let by_id = ClientId([0xb0; 16]).to_string();
        let mut new_bob = member(&by_id, "member", 0xb0);
        new_bob.server_name = Some("bob".into());
        let lines = member_lines(&[
            member("you", "owner", 1),
            new_bob,
            member("日本", "admin", 2),
        ]);
        // Each id starts in the same column of the terminal.
        let columns: Vec<usize> = lines
            .iter()
            .zip([1u8, 0xb0, 2])
            .map(|(l, id)| {
                let at = l.rfind(&ClientId([id; 16]).to_string()).unwrap();
                unicode_width::UnicodeWidthStr::width(&l[..at])
            })
            .collect();
        assert_eq!(columns, [47, 47, 47], "{lines:#?}");
        assert!(
            lines[1].ends_with("  (registered as \"bob\" now)"),
            "{lines:#?}"
        );
        assert!(lines[0].starts_with("you  "), "{lines:#?}");
    }
}
