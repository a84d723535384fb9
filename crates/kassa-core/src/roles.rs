//! Dashboard roles and what each may do. One table, used by every page handler and service
//! command that acts for a dashboard user.

use std::fmt;
use std::str::FromStr;

/// A team member's role, from most to least powerful.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    Owner,
    Admin,
    Developer,
    /// Looks after customers: refunds, captures, cancels and resends; sees no keys.
    Support,
    /// Reads everything but secrets; changes nothing.
    Viewer,
}

/// Something a role may be allowed to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Permission {
    /// See payments, customers, events, deliveries, configuration (never a secret).
    Read,
    /// Refund, capture, cancel or void a payment; resend a notification.
    MoveMoney,
    /// Create, roll, reveal and revoke API keys and face secrets.
    ManageKeys,
    /// Webhook endpoints, Paymentwall projects, Paymob profiles, brandings, test clocks.
    ManageIntegrations,
    /// Invite users and change their roles.
    ManageTeam,
    /// Processor accounts for live mode.
    ManageProcessors,
}

pub const ROLES: [Role; 5] = [
    Role::Owner,
    Role::Admin,
    Role::Developer,
    Role::Support,
    Role::Viewer,
];

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Owner => "owner",
            Role::Admin => "admin",
            Role::Developer => "developer",
            Role::Support => "support",
            Role::Viewer => "viewer",
        }
    }

    pub fn allows(self, p: Permission) -> bool {
        use Permission::*;
        match self {
            Role::Owner | Role::Admin => true,
            Role::Developer => matches!(p, Read | MoveMoney | ManageKeys | ManageIntegrations),
            Role::Support => matches!(p, Read | MoveMoney),
            Role::Viewer => matches!(p, Read),
        }
    }

    /// Whether a user of this role may give `other` to someone, or change someone who has it:
    /// only an owner makes or unmakes owners; an admin manages every other role.
    pub fn may_assign(self, other: Role) -> bool {
        self.allows(Permission::ManageTeam) && (self == Role::Owner || other != Role::Owner)
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        ROLES.into_iter().find(|r| r.as_str() == s).ok_or(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_round_trip_through_their_names() {
        for r in ROLES {
            assert_eq!(r.as_str().parse::<Role>(), Ok(r));
        }
        assert!("root".parse::<Role>().is_err());
        assert!("Owner".parse::<Role>().is_err());
    }

    #[test]
    fn a_viewer_only_reads_and_support_moves_money_without_keys() {
        assert!(Role::Viewer.allows(Permission::Read));
        assert!(!Role::Viewer.allows(Permission::MoveMoney));
        assert!(Role::Support.allows(Permission::MoveMoney));
        assert!(!Role::Support.allows(Permission::ManageKeys));
        assert!(!Role::Support.allows(Permission::ManageIntegrations));
        assert!(Role::Developer.allows(Permission::ManageKeys));
        assert!(!Role::Developer.allows(Permission::ManageTeam));
        assert!(!Role::Developer.allows(Permission::ManageProcessors));
        assert!(Role::Admin.allows(Permission::ManageProcessors));
    }

    #[test]
    fn only_an_owner_makes_owners() {
        assert!(Role::Owner.may_assign(Role::Owner));
        assert!(Role::Admin.may_assign(Role::Developer));
        assert!(!Role::Admin.may_assign(Role::Owner));
        assert!(!Role::Developer.may_assign(Role::Viewer));
    }
}
