//! One permission model for every caller: a role maps to a set of permissions, an API key
//! carries a set (its scopes), and each handler demands the one permission it needs.

use crate::text_enum;

text_enum! {
    /// What a member of a clinic is.
    pub enum Role {
        /// Everything in the clinic, including managing practitioners.
        Admin => "admin",
        /// Library, templates, the clinic's clients, assignments, logs and progress.
        Practitioner => "practitioner",
        /// Their own profile, assignments, agenda, logs and progress.
        Client => "client",
    }
}

text_enum! {
    /// A permission (an API key scope has the same names).
    pub enum Permission {
        PractitionersRead => "practitioners:read",
        PractitionersWrite => "practitioners:write",
        ClientsRead => "clients:read",
        ClientsWrite => "clients:write",
        ExercisesRead => "exercises:read",
        ExercisesWrite => "exercises:write",
        RoutinesRead => "routines:read",
        RoutinesWrite => "routines:write",
        AssignmentsRead => "assignments:read",
        AssignmentsWrite => "assignments:write",
        SessionsRead => "sessions:read",
        SessionsWrite => "sessions:write",
        EventsRead => "events:read",
        WebhooksRead => "webhooks:read",
        WebhooksWrite => "webhooks:write",
        /// Managing API keys; never grantable to an API key.
        ApiKeysWrite => "api_keys:write",
        /// Questionnaires, their assignments, responses and scores.
        OutcomesRead => "outcomes:read",
        OutcomesWrite => "outcomes:write",
        /// The remote-monitoring ledger: episodes, interactions, data days and codes.
        MonitoringRead => "monitoring:read",
        MonitoringWrite => "monitoring:write",
        /// The audit trail: who read or changed what, and when.
        AuditRead => "audit:read",
        /// A client's whole record as one document (subject-access requests).
        DataExport => "data:export",
        /// Erasing a client's personal data; never grantable to an API key.
        DataErase => "data:erase",
    }
}

impl Permission {
    /// Whether an API key may carry this permission as a scope. Managing keys and erasing a
    /// person's data stay with people.
    pub fn grantable_to_keys(self) -> bool {
        !matches!(self, Permission::ApiKeysWrite | Permission::DataErase)
    }
}

/// A set of permissions, one bit each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Permissions(u32);

impl Permissions {
    pub fn of(perms: &[Permission]) -> Self {
        Permissions(perms.iter().fold(0, |acc, p| acc | Self::bit(*p)))
    }

    fn bit(p: Permission) -> u32 {
        let index = Permission::ALL.iter().position(|x| *x == p).unwrap_or(0);
        1 << index
    }

    pub fn contains(self, p: Permission) -> bool {
        self.0 & Self::bit(p) != 0
    }

    pub fn iter(self) -> impl Iterator<Item = Permission> {
        Permission::ALL.iter().copied().filter(move |p| self.contains(*p))
    }
}

impl Role {
    /// The permissions each role holds. Clients hold none of the clinic-wide ones: their
    /// own-data endpoints check ownership instead.
    pub fn permissions(self) -> Permissions {
        use Permission::*;
        match self {
            Role::Admin => Permissions::of(Permission::ALL),
            Role::Practitioner => Permissions::of(&[
                PractitionersRead,
                ClientsRead,
                ClientsWrite,
                ExercisesRead,
                ExercisesWrite,
                RoutinesRead,
                RoutinesWrite,
                AssignmentsRead,
                AssignmentsWrite,
                SessionsRead,
                SessionsWrite,
                OutcomesRead,
                OutcomesWrite,
                MonitoringRead,
                MonitoringWrite,
            ]),
            Role::Client => Permissions::default(),
        }
    }

    pub fn is_staff(self) -> bool {
        matches!(self, Role::Admin | Role::Practitioner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_map_to_permissions() {
        assert!(Role::Admin.permissions().contains(Permission::ApiKeysWrite));
        assert!(Role::Admin.permissions().contains(Permission::PractitionersWrite));
        let p = Role::Practitioner.permissions();
        assert!(p.contains(Permission::ClientsWrite));
        assert!(!p.contains(Permission::PractitionersWrite));
        assert!(!p.contains(Permission::ApiKeysWrite));
        assert!(p.contains(Permission::OutcomesWrite) && p.contains(Permission::MonitoringRead));
        for admin_only in [Permission::AuditRead, Permission::DataExport, Permission::DataErase] {
            assert!(!p.contains(admin_only), "{admin_only}");
            assert!(Role::Admin.permissions().contains(admin_only), "{admin_only}");
        }
        assert!(!Permission::DataErase.grantable_to_keys() && !Permission::ApiKeysWrite.grantable_to_keys());
        assert_eq!(Role::Client.permissions().iter().count(), 0);
    }

    #[test]
    fn permission_names_parse() {
        assert_eq!("clients:read".parse::<Permission>(), Ok(Permission::ClientsRead));
        assert!("clients:delete".parse::<Permission>().is_err());
    }
}
