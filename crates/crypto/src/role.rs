//! What a key may do: the role a version 2 key file carries.

use std::fmt;

/// What a key may do.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Role {
    /// Everything: back up, forget, prune, add and remove keys.
    Admin,
    /// Back up and read; no deletion and no key management.
    Backup,
}

impl Role {
    pub(crate) fn to_byte(self) -> u8 {
        match self {
            Role::Admin => 1,
            Role::Backup => 2,
        }
    }

    /// `"admin"` or `"backup"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Backup => "backup",
        }
    }

    /// Parses `"admin"` or `"backup"`.
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "backup" => Some(Role::Backup),
            _ => None,
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
