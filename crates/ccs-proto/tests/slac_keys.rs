//! Key derivation against `vectors/slac_key_derivation.tsv` (computed rows and the NIDs real
//! chargers sent).

use ccs_proto::homeplug::{Nid, Nmk};
use ccs_proto::slac::keys::{SecurityLevel, dak_from_password};
use ccs_testdata::{hex, read_tsv};

#[test]
fn every_key_derivation_vector_matches() {
    let rows = read_tsv("vectors/slac_key_derivation.tsv");
    let mut checked = 0;
    for row in &rows {
        let output = hex(row.get("output"));
        let computed: Vec<u8> = match row.get("kind") {
            "NMK_from_password" => Nmk::from_password(row.get("input").as_bytes()).0.to_vec(),
            "DAK_from_password" => dak_from_password(row.get("input").as_bytes()).to_vec(),
            "NID_from_NMK" => {
                let nmk = Nmk(hex(row.get("input")).try_into().unwrap());
                let level = match row.get("security_level") {
                    "0" => SecurityLevel::SimpleConnect,
                    "1" => SecurityLevel::Secure,
                    other => panic!("line {}: level {other}", row.line),
                };
                Nid::from_nmk(&nmk, level).0.to_vec()
            }
            other => panic!("line {}: unknown kind {other}", row.line),
        };
        assert_eq!(computed, output, "line {}: {}", row.line, row.get("notes"));
        checked += 1;
    }
    assert_eq!(checked, rows.len());
    assert!(checked >= 14);
}
