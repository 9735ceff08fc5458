//! Practitioners: the staff memberships of a clinic (role admin or practitioner).

pub mod dto;
pub mod queries;
