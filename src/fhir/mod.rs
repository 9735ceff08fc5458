//! A client's record as an HL7 FHIR R4 `collection` Bundle (`GET /v1/clients/{id}/fhir`,
//! `?format=fhir` on the export), and the definitions that make it self-describing: Rehabit's
//! CodeSystem and the StructureDefinitions of its extensions, served without authentication.
//!
//! [`map`] turns the API's own answers into FHIR resources and holds no I/O, so every mapping
//! rule is unit-tested; [`handlers`] reads the record and hands it over. The mapping table and
//! what the independent validation checks are in `docs/fhir.md`.

pub mod definitions;
pub mod handlers;
pub mod map;

use uuid::Uuid;

/// The FHIR JSON media type.
pub const MEDIA_TYPE: &str = "application/fhir+json";
/// Where Rehabit's FHIR definitions live; the last path segment is the id they are served by.
pub const BASE: &str = "https://rehabit.dev/fhir";
/// Rehabit's CodeSystem.
pub const CODE_SYSTEM: &str = "https://rehabit.dev/fhir/CodeSystem/rehabit";
/// The extension carrying an item's dosage (sets, reps, hold, duration, rest, side).
pub const DOSAGE_EXTENSION: &str = "https://rehabit.dev/fhir/StructureDefinition/dosage";
/// The extension carrying a body site's laterality (SNOMED CT left / right).
pub const LATERALITY_EXTENSION: &str = "https://rehabit.dev/fhir/StructureDefinition/laterality";
/// Identifier systems for Rehabit's ids.
pub const SESSION_LOG_SYSTEM: &str = "https://rehabit.dev/fhir/sid/session-log";
pub const CLIENT_SYSTEM: &str = "https://rehabit.dev/fhir/sid/client";
pub const EXERCISE_SYSTEM: &str = "https://rehabit.dev/fhir/sid/exercise";
pub const SNOMED: &str = "http://snomed.info/sct";
pub const LOINC: &str = "http://loinc.org";
pub const UCUM: &str = "http://unitsofmeasure.org";

/// `urn:uuid:<id>`: every entry's `fullUrl`, and what references point at.
pub fn urn(id: Uuid) -> String {
    format!("urn:uuid:{id}")
}

/// A stable id for a resource Rehabit keeps no id of its own for (an Observation of a log's
/// pain, a measurement, a flag): derived from the owner's id and a name, so every export of
/// the same record gives the same id. SHA-256 of both, shaped as a version-8 UUID (RFC 9562).
pub fn derived_id(owner: Uuid, name: &str) -> Uuid {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(owner.as_bytes());
    h.update(b"/");
    h.update(name.as_bytes());
    let digest = h.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    bytes[6] = (bytes[6] & 0x0f) | 0x80;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    Uuid::from_bytes(bytes)
}

pub fn configure(cfg: &mut utoipa_actix_web::service_config::ServiceConfig) {
    cfg.service(handlers::export_client_fhir)
        .service(handlers::get_fhir_code_system)
        .service(handlers::get_fhir_structure_definition);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derived_ids_are_stable_and_distinct() {
        let owner = Uuid::now_v7();
        assert_eq!(derived_id(owner, "pain-before"), derived_id(owner, "pain-before"));
        assert_ne!(derived_id(owner, "pain-before"), derived_id(owner, "pain-after"));
        assert_ne!(derived_id(owner, "flag"), derived_id(Uuid::now_v7(), "flag"));
        assert_eq!(derived_id(owner, "flag").get_version_num(), 8);
        assert_eq!(urn(owner), format!("urn:uuid:{owner}"));
    }
}
